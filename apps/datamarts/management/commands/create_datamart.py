from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.datamarts.management.commands._output import emit
from apps.datamarts.services import datamart_create


class Command(BaseCommand):
    help = "Creates a datamart with its default compartment."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--allowed-origin",
            action="append",
            default=[],
            dest="allowed_origins",
            help="a web origin whose pages may send to the ingestion routes (repeatable; none: any origin)",
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            datamart = datamart_create(name=options["name"], allowed_origins=options["allowed_origins"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        default = datamart.compartments.get(is_default=True)
        emit(
            self,
            options["json"],
            {"datamart_id": datamart.pk, "default_compartment_id": default.pk},
            f"Created datamart {datamart.pk} with default compartment {default.pk}",
        )
