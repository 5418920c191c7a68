"""The organisation admin at /manage/ (`project/urls.py` mounts it).

Built here, in the interface layer, from each domain's `register(site)`: the site's class lives in
accounts (it knows roles and writes the audit log through compliance), so a domain registering on
an instance there would import accounts, and compliance, which accounts imports, would loop
(docs/decisions/0009-layers.md). A new domain with organisation-scoped admins adds its `register`
here (docs/adding-a-domain.md §7).
"""

from __future__ import annotations

from domains.accounts import admin as accounts_admin
from domains.accounts.admin_site import OrganisationAdminSite
from domains.ai import admin as ai_admin
from domains.compliance import admin as compliance_admin
from domains.interviews import admin as interviews_admin
from domains.invitations import admin as invitations_admin
from domains.lounges import admin as lounges_admin
from domains.mail import admin as mail_admin

# The name is the URL namespace (`org_admin:index`, the navigation's link).
org_admin_site = OrganisationAdminSite(name="org_admin")

accounts_admin.register(org_admin_site)
compliance_admin.register(org_admin_site)
ai_admin.register(org_admin_site)
lounges_admin.register(org_admin_site)
mail_admin.register(org_admin_site)
invitations_admin.register(org_admin_site)
interviews_admin.register(org_admin_site)
