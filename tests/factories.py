"""factory_boy factories; `datamart_setup` builds what most tests need: a datamart and a key for it."""

from __future__ import annotations

from dataclasses import dataclass

import factory

from apps.datamarts.models import Compartment, Datamart, LegalBasis, Processing
from apps.datamarts.services import api_key_create


class DatamartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Datamart
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Datamart {n}")

    @factory.post_generation
    def default_compartment(obj, create, extracted, **kwargs):
        if create:
            Compartment.objects.create(datamart=obj, name="Default", is_default=True)


class CompartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Compartment

    datamart = factory.SubFactory(DatamartFactory)
    name = factory.Sequence(lambda n: f"Compartment {n}")
    is_default = False


class ProcessingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Processing

    datamart = factory.SubFactory(DatamartFactory)
    name = factory.Sequence(lambda n: f"Processing {n}")
    legal_basis = LegalBasis.CONSENT


@dataclass
class Setup:
    datamart: Datamart
    default_compartment: Compartment
    key: str  # ingest, read and write

    @property
    def auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": self.key}


def datamart_setup(scopes: tuple[str, ...] = ("ingest", "read", "write")) -> Setup:
    datamart = DatamartFactory()
    created = api_key_create(datamart=datamart, name="test key", scopes=list(scopes))
    return Setup(datamart=datamart, default_compartment=datamart.compartments.get(is_default=True), key=created.raw_key)


def site_visit(agent: str = "vec:1", **extra: object) -> dict[str, object]:
    """The smallest valid mediarithmics activity (POST user_activities): a SITE_VISIT of one user agent."""
    return {"$ts": 1_700_000_000_000, "$type": "SITE_VISIT", "$user_agent_id": agent, **extra}
