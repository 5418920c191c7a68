from tests.factories.accounts import MembershipFactory, OrganisationFactory, UserFactory

__all__ = ["MembershipFactory", "OrganisationFactory", "UserFactory"]
