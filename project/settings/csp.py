"""Content-Security-Policy (django-csp 4), the same in every mode.

Every script is a static file from our own origin: no inline script, no `eval` (htmx runs with
`allowEval: false`, see the `htmx-config` meta in base.html), so no nonces or hashes are needed.
Styles are static files too: htmx's injected indicator `<style>` is switched off
(`includeIndicatorStyles: false`) and its two rules live in css/app.css.

`connect-src 'self'` also covers our websockets: CSP Level 3 lets 'self' match ws:/wss: of the
page's own host and port (tests/e2e/test_csp.py proves it in Chromium with the lounge socket).

In DEBUG, django-csp sends no header on Django's own 404/500 debug pages (their inline scripts run);
django-htmx's debug helper, which evals those scripts after a failed htmx request, cannot.

`form-action 'self'` also governs where a form's POST may redirect in Chromium; a later flow that
posts and then redirects off-site (a payment provider's checkout) must add that origin here.
"""

from csp.constants import NONE, SELF

__all__ = ["CONTENT_SECURITY_POLICY"]  # not NONE and SELF: they would become settings

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # data: for the TOTP QR code allauth renders inline
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
