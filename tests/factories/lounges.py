from __future__ import annotations

import factory

from domains.lounges.models import Lounge, LoungeMembership, LoungeRole, Message
from tests.factories.accounts import OrganisationFactory, UserFactory


class LoungeFactory(factory.django.DjangoModelFactory[Lounge]):
    class Meta:
        model = Lounge

    organisation = factory.SubFactory(OrganisationFactory)
    slug = factory.Sequence(lambda n: f"lounge-{n}")
    title = factory.Sequence(lambda n: f"Lounge {n}")
    topic = "Careers and interviews"
    coach_provider = "offline"


class LoungeMembershipFactory(factory.django.DjangoModelFactory[LoungeMembership]):
    class Meta:
        model = LoungeMembership

    lounge = factory.SubFactory(LoungeFactory)
    user = factory.SubFactory(UserFactory)
    role = LoungeRole.MEMBER


class MessageFactory(factory.django.DjangoModelFactory[Message]):
    class Meta:
        model = Message

    lounge = factory.SubFactory(LoungeFactory)
    author = factory.SubFactory(UserFactory)
    body = factory.Faker("sentence")
    body_html = factory.LazyAttribute(lambda m: f"<p>{m.body}</p>")
