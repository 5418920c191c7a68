"""Name the Sites row after the product (SITE_NAME, SITE_DOMAIN), so allauth's mails say
"Hello from Coachwire!" rather than "example.com". A row an operator already renamed is kept."""

from django.conf import settings
from django.core.management.color import no_style
from django.db import migrations


def name_site(apps, schema_editor):
    Site = apps.get_model("sites", "Site")
    alias = schema_editor.connection.alias
    site = Site.objects.using(alias).filter(pk=settings.SITE_ID).first()
    if site is None:
        # Before `create_default_site` (post_migrate), which then finds a row and adds none.
        Site.objects.using(alias).create(pk=settings.SITE_ID, name=settings.SITE_NAME, domain=settings.SITE_DOMAIN)
        with schema_editor.connection.cursor() as cursor:
            for sql in schema_editor.connection.ops.sequence_reset_sql(no_style(), [Site]):
                cursor.execute(sql)
    elif site.domain == "example.com":
        site.name = settings.SITE_NAME
        site.domain = settings.SITE_DOMAIN
        site.save(update_fields=["name", "domain"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("sites", "0002_alter_domain_unique"),
    ]

    operations = [migrations.RunPython(name_site, migrations.RunPython.noop)]
