"""Static files in production: hashed names, compressed, and our ES-module imports rewritten too."""

from django.contrib.staticfiles.storage import HashedFilesMixin
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    # Our pages are ES modules that import each other by relative path; without the rewrite, the
    # hashed app.<hash>.js would import unhashed module files, and a module could run twice.
    # Only our own modules (js/): third-party bundles (htmx extensions) are not rewritten.
    support_js_module_import_aggregation = True
    _js_module_import_aggregation_patterns = (
        "js/*.js",
        HashedFilesMixin._js_module_import_aggregation_patterns[1],  # type: ignore[attr-defined]
    )
