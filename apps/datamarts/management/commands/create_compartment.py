from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.datamarts.management.commands._output import datamart_or_fail, emit
from apps.datamarts.services import compartment_create


class Command(BaseCommand):
    help = "Creates a compartment in a datamart."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--datamart", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        compartment = compartment_create(datamart=datamart_or_fail(options["datamart"]), name=options["name"])
        emit(self, options["json"], {"compartment_id": compartment.pk}, f"Created compartment {compartment.pk}")
