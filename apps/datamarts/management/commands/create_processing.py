from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.datamarts.management.commands._output import datamart_or_fail, emit
from apps.datamarts.models import LegalBasis
from apps.datamarts.services import processing_create


class Command(BaseCommand):
    help = "Creates a processing (a purpose users consent to) with its legal basis."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--datamart", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--legal-basis", default=LegalBasis.CONSENT, choices=LegalBasis.values)
        parser.add_argument(
            "--consent-category",
            action="append",
            default=[],
            dest="consent_categories",
            help="a consent category of websites' consent managers that decides this processing (repeatable)",
        )
        parser.add_argument(
            "--gpc-opt-out",
            action="store_true",
            help="Global Privacy Control (Sec-GPC: 1) refuses this processing",
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            processing = processing_create(
                datamart=datamart_or_fail(options["datamart"]),
                name=options["name"],
                legal_basis=options["legal_basis"],
                consent_categories=options["consent_categories"],
                gpc_opt_out=options["gpc_opt_out"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        emit(self, options["json"], {"processing_id": processing.pk}, f"Created processing {processing.pk}")
