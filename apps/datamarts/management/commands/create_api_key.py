from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.datamarts.management.commands._output import datamart_or_fail, emit
from apps.datamarts.models import Compartment
from apps.datamarts.services import api_key_create


class Command(BaseCommand):
    help = "Creates an API key and prints its secret, once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--datamart", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--compartment")
        parser.add_argument("--scopes", default="ingest,read,write")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        datamart = datamart_or_fail(options["datamart"])
        compartment = None
        if options["compartment"]:
            compartment = Compartment.objects.filter(datamart=datamart, pk=options["compartment"]).first()
            if compartment is None:
                raise CommandError(f"no compartment {options['compartment']} in datamart {datamart.pk}")
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        try:
            created = api_key_create(datamart=datamart, name=options["name"], scopes=scopes, compartment=compartment)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        emit(
            self,
            options["json"],
            {"key": created.raw_key, "key_id": created.api_key.pk},
            f"API key {created.api_key.pk}: {created.raw_key}  (shown once: store it now)",
        )
