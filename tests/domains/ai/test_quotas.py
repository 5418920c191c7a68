"""Quotas: requests per hour per user (Redis bucket) and tokens per UTC day per organisation (usage table)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from domains.ai.models import AIFeatureConfig, AIUsage
from domains.ai.providers.errors import QuotaExceeded
from domains.ai.selectors import ai_quota_limits
from domains.ai.services import ai_quota_check, ai_usage_record, chat_stream, provider_named
from tests.factories import MembershipFactory, OrganisationFactory

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def test_requests_per_hour_refusal_carries_the_refill_time(ai_settings, org, learner):
    """With 3 requests an hour, the 4th is refused for 3600/3 = 1200 s, and the refusal is recorded."""
    AIFeatureConfig.objects.create(organisation=org, feature="coach", requests_per_hour_per_user=3)

    with time_machine.travel(NOON, tick=False) as clock:
        for _ in range(3):
            ai_quota_check(organisation=org, user=learner, feature="coach")
        with pytest.raises(QuotaExceeded) as caught:
            ai_quota_check(organisation=org, user=learner, feature="coach")

        assert caught.value.retry_after == 1200
        assert caught.value.limit == "requests_per_hour_per_user"
        row = AIUsage.objects.get()
        assert (row.organisation, row.user, row.feature, row.outcome) == (org, learner, "coach", "quota_refused")
        assert "retry after 1200s" in row.detail

        clock.shift(1199)
        with pytest.raises(QuotaExceeded) as caught:
            ai_quota_check(organisation=org, user=learner, feature="coach")
        assert caught.value.retry_after == 1
        clock.shift(1)
        ai_quota_check(organisation=org, user=learner, feature="coach")  # one request refilled


def test_request_limit_is_per_user_and_feature(ai_settings, org, learner):
    ai_settings.AI_QUOTA_REQUESTS_PER_HOUR = 1
    other = MembershipFactory.create(organisation=org).user

    with time_machine.travel(NOON, tick=False):
        ai_quota_check(organisation=org, user=learner, feature="coach")
        ai_quota_check(organisation=org, user=other, feature="coach")
        ai_quota_check(organisation=org, user=learner, feature="interview")
        with pytest.raises(QuotaExceeded):
            ai_quota_check(organisation=org, user=learner, feature="coach")


def test_tokens_per_day_refusal_waits_for_utc_midnight(ai_settings, org, learner):
    """Once the organisation has spent its daily tokens, calls wait until the next UTC day."""
    ai_settings.AI_QUOTA_TOKENS_PER_DAY = 1000
    other_org = OrganisationFactory.create()
    with time_machine.travel(dt.datetime(2026, 3, 1, 23, 0, tzinfo=dt.UTC), tick=False):
        ai_usage_record(organisation=org, user=learner, feature="lounge", outcome="ok", tokens_in=700, tokens_out=299)
        ai_quota_check(organisation=org, user=learner, feature="coach")  # 999 < 1000
        ai_usage_record(organisation=org, user=learner, feature="coach", outcome="ok", tokens_in=0, tokens_out=1)

        with pytest.raises(QuotaExceeded) as caught:
            ai_quota_check(organisation=org, user=learner, feature="coach")
        ai_quota_check(organisation=other_org, user=None, feature="coach")  # another organisation is unaffected

    assert caught.value.retry_after == 3600
    assert caught.value.limit == "tokens_per_day_per_org"
    assert AIUsage.objects.filter(outcome="quota_refused", organisation=org).count() == 1
    with time_machine.travel(dt.datetime(2026, 3, 2, 0, 0, 1, tzinfo=dt.UTC), tick=False):
        ai_quota_check(organisation=org, user=learner, feature="coach")  # a new day


def test_refused_stream_never_reaches_the_provider(ai_settings, fake_llm, org, learner):
    """chat_stream checks the quota first: a refusal raises before any provider call."""
    AIFeatureConfig.objects.create(organisation=org, feature="", tokens_per_day_per_org=10)
    ai_usage_record(organisation=org, user=learner, feature="coach", outcome="ok", tokens_in=5, tokens_out=5)

    with pytest.raises(QuotaExceeded):
        list(
            chat_stream(
                organisation=org,
                user=learner,
                feature="coach",
                messages=[{"role": "user", "content": "x"}],
                provider=provider_named("openai"),
            )
        )

    assert fake_llm.request_count == 0
    assert AIUsage.objects.filter(outcome="quota_refused").count() == 1


def test_limits_inherit_feature_then_organisation_then_settings(ai_settings, org):
    """One lookup: the feature row, then the organisation's default row, then the environment; 0 = unlimited."""
    ai_settings.AI_QUOTA_REQUESTS_PER_HOUR = 60
    ai_settings.AI_QUOTA_TOKENS_PER_DAY = 5000
    AIFeatureConfig.objects.create(organisation=org, feature="", requests_per_hour_per_user=30)
    AIFeatureConfig.objects.create(
        organisation=org, feature="interview", requests_per_hour_per_user=0, tokens_per_day_per_org=900
    )

    coach = ai_quota_limits(organisation=org, feature="coach")
    interview = ai_quota_limits(organisation=org, feature="interview")
    elsewhere = ai_quota_limits(organisation=OrganisationFactory.create(), feature="coach")

    assert (coach.requests_per_hour_per_user, coach.tokens_per_day_per_org) == (30, 5000)
    assert (interview.requests_per_hour_per_user, interview.tokens_per_day_per_org) == (0, 900)
    assert (elsewhere.requests_per_hour_per_user, elsewhere.tokens_per_day_per_org) == (60, 5000)


def test_unknown_feature_is_refused(ai_settings, org, learner):
    with pytest.raises(ValueError, match="unknown AI feature"):
        ai_quota_check(organisation=org, user=learner, feature="made-up")
