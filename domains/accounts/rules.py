"""Permission predicates (django-rules). Roles are per organisation: the one bound to the request."""

from __future__ import annotations

from typing import Any

import rules
from django.contrib.auth.models import AnonymousUser

from domains.accounts.models import Organisation, Role, User
from domains.accounts.selectors import roles_for_user


def _roles(user: User | AnonymousUser, organisation: Organisation | None) -> frozenset[str]:
    return roles_for_user(user=user, organisation=organisation)


def has_role(role: str) -> Any:
    @rules.predicate(name=f"has_role_{role}")
    def predicate(user: User | AnonymousUser, organisation: Organisation | None = None) -> bool:
        return role in _roles(user, organisation)

    return predicate


is_learner = has_role(Role.LEARNER)
is_candidate = has_role(Role.CANDIDATE)
is_mentor = has_role(Role.MENTOR)
is_org_staff = has_role(Role.STAFF)
is_cashier = has_role(Role.CASHIER)
is_registrar = has_role(Role.REGISTRAR)

rules.add_perm("accounts.manage_members", is_org_staff)
rules.add_perm("accounts.view_members", is_org_staff | is_mentor)
rules.add_perm("accounts.manage_settings", is_org_staff)
rules.add_perm("compliance.view_audit", is_org_staff)
