"""The demo's logins, importable without Django set up (`make run` prints them)."""

DEMO_PASSWORD = "coachwire-demo"  # noqa: S105 - a public demo login, printed by `make run`
DEMO_DOMAIN = "demo.coachwire.test"
DEMO_ORGANISATION_SLUG = "coachwire-demo"
# One member of the demo organisation per role. Staff run it from the organisation admin (/manage/).
DEMO_USERS = [
    ("learner", "Lena Learner"),
    ("candidate", "Cato Candidate"),
    ("mentor", "Mira Mentor"),
    ("staff", "Stan Staff"),
    ("cashier", "Cass Cashier"),
    ("registrar", "Reg Registrar"),
]
# The platform operator: a superuser for Django's own admin (/admin/), a member of no organisation.
DEMO_OPERATOR = ("operator", "Oona Operator")
# What `make run` says each login is for, beside the role.
DEMO_LOGIN_NOTES = {
    "staff": "organisation admin: /manage/",
    "operator": "platform operator, Django admin: /admin/",
}


def demo_email(role: str) -> str:
    return f"{role}@{DEMO_DOMAIN}"


def demo_logins() -> list[tuple[str, str, str]]:
    """(label, email, note) for every demo login, the operator last."""
    return [(role, demo_email(role), DEMO_LOGIN_NOTES.get(role, "")) for role, _ in [*DEMO_USERS, DEMO_OPERATOR]]
