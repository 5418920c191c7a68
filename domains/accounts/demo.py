"""The demo's logins, importable without Django set up (`make run` prints them)."""

DEMO_PASSWORD = "coachwire-demo"  # noqa: S105 - a public demo login, printed by `make run`
DEMO_DOMAIN = "demo.coachwire.test"
DEMO_ORGANISATION_SLUG = "coachwire-demo"
DEMO_USERS = [
    ("learner", "Lena Learner"),
    ("candidate", "Cato Candidate"),
    ("mentor", "Mira Mentor"),
    ("staff", "Stan Staff"),
    ("cashier", "Cass Cashier"),
    ("registrar", "Reg Registrar"),
]


def demo_email(role: str) -> str:
    return f"{role}@{DEMO_DOMAIN}"
