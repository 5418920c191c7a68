"""Staff configure providers and quotas in admin; usage is read-only there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from domains.ai.models import AIFeatureConfig
from domains.ai.services import ai_usage_record

pytestmark = pytest.mark.django_db


def test_admin_lists_config_and_usage(admin_client, org, learner):
    AIFeatureConfig.objects.create(organisation=org, feature="coach", provider="openai", model="gpt-x")
    ai_usage_record(organisation=org, user=learner, feature="coach", outcome="ok", provider="openai", model="gpt-x")

    config_page = admin_client.get(reverse("admin:ai_aifeatureconfig_changelist"))
    usage_page = admin_client.get(reverse("admin:ai_aiusage_changelist"))

    assert config_page.status_code == 200
    assert b"gpt-x" in config_page.content
    assert usage_page.status_code == 200
    assert b"gpt-x" in usage_page.content


def test_staff_can_add_a_feature_config(admin_client, org):
    response = admin_client.post(
        reverse("admin:ai_aifeatureconfig_add"),
        {
            "organisation": org.pk,
            "feature": "interview",
            "provider": "anthropic",
            "model": "claude-x",
            "temperature": "",
            "max_tokens": "",
            "requests_per_hour_per_user": "10",
            "tokens_per_day_per_org": "",
        },
    )

    assert response.status_code == 302
    config = AIFeatureConfig.objects.get()
    assert (config.feature, config.provider, config.requests_per_hour_per_user) == ("interview", "anthropic", 10)


def test_usage_cannot_be_added_in_admin(admin_client):
    assert admin_client.get(reverse("admin:ai_aiusage_add")).status_code == 403
