"""Interview pages: a session's report (see views/__init__.py).

- `GET /interviews/sessions/<id>/report/`: the scores, readiness and its reasons, study topics, and
  per answer its score, band, explanation and tip. The candidate sees their own; the session's
  watchers (mentors of its organisation, the assignment's reviewer, with that organisation bound)
  see it too and get an override form per answer. Anyone else, and a missing id: 404. Before
  grading the page says the answers are being scored and follows the session's socket: "Scoring
  2 of 5…", each answer's score and band as it arrives; once graded the page fetches itself again
  and the stored report replaces the live view in place (no reload). Candidate-safe for every viewer: no
  reference answer, answer key or band descriptor.
- `GET /interviews/sessions/<id>/report.pdf`: the same report as a PDF download (fpdf2), for the
  same people, once graded (before: 404). Noto Sans (the `fontpkg-noto-sans` wheel) is embedded,
  so names in Cyrillic, Greek and other Latin-Greek-Cyrillic scripts print.
- `POST /interviews/sessions/<id>/answers/<answer_id>/override/`: a watcher's score override
  (`score`, `reason`); a refusal is shown as a message on the report; then back to the report.
"""

from __future__ import annotations

from typing import Any

import fontpkg_noto_sans
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST
from fpdf import FPDF

from domains.accounts.http import AuthenticatedRequest
from domains.common.errors import Refusal
from domains.common.forms import refusal_to_messages
from domains.interviews import evaluation

ID_MAX = 2**63 - 1


def _id(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= ID_MAX:
        raise Http404("Not found.")
    return int(raw)


@login_required
@require_GET
def report_view(request: AuthenticatedRequest, session_id: str) -> HttpResponse:
    feedback = evaluation.feedback_for_user(
        user=request.user, organisation=request.organisation, session_id=_id(session_id)
    )
    # Before the report exists the page follows the session's socket: "Scoring 2 of 5…", each
    # answer's score as it is produced, then the report (interview.js, `startReport`).
    live = None
    if not feedback["graded"] and feedback["state"] != "in_progress":
        live = {"socket": f"/ws/interviews/{feedback['session_id']}/", "report_url": request.path}
    return render(request, "interviews/report.html", {"feedback": feedback, "live_config": live})


_FONT = fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf"
_READINESS = {"ready": "Ready", "almost_ready": "Almost ready", "not_ready": "Not ready yet"}


def report_pdf(feedback: dict[str, Any]) -> bytes:
    """The graded report as a PDF: the scores, readiness and reasons, study topics, then each
    answer's score, band, explanation and tip (candidate-safe, as the page)."""
    report = feedback["report"]
    pdf = FPDF(format="A4")
    pdf.set_title(f"Interview report: {feedback['template_title']}")
    pdf.add_font("Noto", "", str(_FONT))
    pdf.add_font("Noto", "B", str(_FONT), variations={"wght": 700.0})
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    width = pdf.epw

    def line(text: str, *, size: float = 10, bold: bool = False, gap: float = 1.5) -> None:
        pdf.set_font("Noto", "B" if bold else "", size)
        pdf.multi_cell(width, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    def dimension(value: int | None) -> str:
        return gettext("not assessed") if value is None else str(value)

    line(gettext("Interview report: %(title)s") % {"title": feedback["template_title"]}, size=16, bold=True)
    line(gettext("Candidate: %(name)s") % {"name": feedback["candidate_name"]}, size=12)
    line(
        gettext(
            "Overall %(overall)s · Technical %(technical)s · Communication %(communication)s · Problem solving %(ps)s"
        )
        % {
            "overall": report["overall"],
            "technical": dimension(report["technical"]),
            "communication": dimension(report["communication"]),
            "ps": dimension(report["problem_solving"]),
        },
        size=12,
        bold=True,
    )
    line(
        gettext("Readiness: %(readiness)s · Confidence %(confidence)d%%")
        % {"readiness": gettext(_READINESS[report["readiness"]]), "confidence": round(report["confidence"] * 100)}
    )
    if feedback["percentile"] is not None:
        line(gettext("Better than %(p)d%% of earlier sessions of this interview.") % {"p": feedback["percentile"]})
    if report["offline"]:
        line(gettext("Offline evaluator: some scores measure rubric coverage only, without a model."))
    for reason in report["reasons"]:
        line(f"• {reason}", gap=0.5)
    if report["study_topics"]:
        line(gettext("Study next: %(topics)s") % {"topics": ", ".join(report["study_topics"])})
    for answer in feedback["answers"]:
        pdf.ln(2)
        line(f"{answer['position']}. {answer['prompt']}", bold=True)
        line(
            f"{answer['score']}/100 · {answer['band']}"
            + (" · " + gettext("offline evaluator") if answer["offline"] else "")
        )
        line(answer["explanation"])
        if answer["tip"]:
            line(gettext("Tip: %(tip)s") % {"tip": answer["tip"]})
        if answer["overridden"]:
            line(gettext("A reviewer set this score: %(reason)s") % {"reason": answer["override_reason"]})
    return bytes(pdf.output())


@login_required
@require_GET
def report_pdf_view(request: AuthenticatedRequest, session_id: str) -> HttpResponse:
    feedback = evaluation.feedback_for_user(
        user=request.user, organisation=request.organisation, session_id=_id(session_id)
    )
    if not feedback["graded"]:
        raise Http404("This session has no report yet.")
    response = HttpResponse(report_pdf(feedback), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="interview-report-{feedback["session_id"]}.pdf"'
    return response


@login_required
@require_POST
def override_view(request: AuthenticatedRequest, session_id: str, answer_id: str) -> HttpResponse:
    session_pk = _id(session_id)
    evaluation.feedback_for_user(user=request.user, organisation=request.organisation, session_id=session_pk)
    raw = request.POST.get("score", "").strip()
    try:
        evaluation.score_override(
            user=request.user,
            answer_id=_id(answer_id),
            session_id=session_pk,
            score=int(raw) if raw.lstrip("-").isdigit() and len(raw) <= 4 else raw,
            reason=request.POST.get("reason", ""),
            request=request,
        )
    except Refusal as refusal:
        refusal_to_messages(request, refusal)
        for problems in refusal.fields.values():  # the form is on the report: say what was wrong
            for problem in problems:
                messages.error(request, problem)
    else:
        messages.success(request, gettext("The score was changed and the report recomputed."))
    return redirect("interviews:session_report", session_id=session_pk)


urls: list[URLPattern] = [
    path("sessions/<str:session_id>/report/", report_view, name="session_report"),
    path("sessions/<str:session_id>/report.pdf", report_pdf_view, name="session_report_pdf"),
    path("sessions/<str:session_id>/answers/<str:answer_id>/override/", override_view, name="session_score_override"),
]
