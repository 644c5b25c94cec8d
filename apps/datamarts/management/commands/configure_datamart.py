from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.datamarts.management.commands._output import datamart_or_fail, emit
from apps.datamarts.services import datamart_configure


class Command(BaseCommand):
    help = "Changes a datamart's allowed origins (CORS of the ingestion routes) or its personal property names."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--datamart", required=True)
        origins = parser.add_mutually_exclusive_group()
        origins.add_argument(
            "--allowed-origin",
            action="append",
            dest="allowed_origins",
            help="a web origin whose pages may send (repeatable; replaces the list)",
        )
        origins.add_argument("--any-origin", action="store_true", help="empty the list: every origin may send")
        parser.add_argument(
            "--personal-property",
            action="append",
            dest="personal_properties",
            help="a property name masked for marketers (repeatable; replaces the list)",
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        datamart = datamart_or_fail(options["datamart"])
        allowed = [] if options["any_origin"] else options["allowed_origins"]
        try:
            datamart_configure(
                datamart=datamart, allowed_origins=allowed, personal_properties=options["personal_properties"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        origins = ", ".join(datamart.allowed_origins) or "any origin"
        emit(
            self,
            options["json"],
            {
                "datamart_id": datamart.pk,
                "allowed_origins": datamart.allowed_origins,
                "personal_properties": datamart.personal_properties,
            },
            f"Datamart {datamart.pk}: ingestion from {origins}",
        )
