"""/api/v1/interviews: templates (templates.py), sessions and answers (sessions.py), feedback and
practice areas (reports.py), assessments and accommodations (assignments.py); one router, mounted
in project/api.py."""

from ninja import Router

from domains.interviews.api import assignments, reports, sessions, templates

router = Router(tags=["interviews"])
router.add_router("", templates.router)
router.add_router("", sessions.router)
router.add_router("", reports.router)
router.add_router("", assignments.router)
