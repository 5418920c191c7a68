"""Audit events are append-only in the grants too, not only in the trigger (ARCHITECTURE.md §9).

The `audit_append_only` trigger refuses UPDATE and DELETE, but every pgtrigger trigger skips itself
when the session names it in the `pgtrigger.ignore` setting, and any role may set that. So no role
but the table's owner keeps UPDATE, DELETE, TRUNCATE, REFERENCES or TRIGGER here: the application
role's default privileges (docs/operations.md) grant UPDATE and DELETE on every new table, and this
takes them back for this one. It names no role, so it holds whatever the deployment calls its roles.
Later privileged roles (the retention job) are granted what they need explicitly, after this.
"""

from django.db import migrations

REVOKE_FROM_ALL_BUT_OWNER = """
DO $revoke$
DECLARE grantee_name text;
BEGIN
    FOR grantee_name IN
        SELECT DISTINCT CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(acl.grantee)) END
        FROM pg_class c, aclexplode(c.relacl) acl
        WHERE c.oid = 'compliance_auditevent'::regclass
          AND acl.grantee <> c.relowner
          AND acl.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER')
    LOOP
        EXECUTE format(
            'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON compliance_auditevent FROM %s', grantee_name
        );
    END LOOP;
END
$revoke$;
"""


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]

    operations = [migrations.RunSQL(REVOKE_FROM_ALL_BUT_OWNER, reverse_sql=migrations.RunSQL.noop)]
