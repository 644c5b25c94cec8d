"""Creates, once, a demo datamart with its default compartment, a processing, an API key and an admin user,
and prints how to use them (again on every run: the secrets are kept in var/demo-credentials.json)."""

import json
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.datamarts.models import Datamart, LegalBasis
from apps.datamarts.services import api_key_create, datamart_create, processing_create


class Command(BaseCommand):
    help = "Creates the demo datamart, API key and admin user on first run, and prints them."

    def handle(self, *args: Any, **options: Any) -> None:
        path = settings.VAR_DIR / "demo-credentials.json"
        if path.exists() and Datamart.objects.filter(pk=json.loads(path.read_text())["datamart_id"]).exists():
            credentials = json.loads(path.read_text())
        else:
            credentials = self.create()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(credentials, indent=2))
            path.chmod(0o600)
        port = settings.ENV_PORT
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Demo datamart {credentials['datamart_id']} (default compartment "
                    f"{credentials['default_compartment_id']}, processing {credentials['processing_id']})",
                    f"API key (ingest, read, write): {credentials['api_key']}",
                    f"Console: http://127.0.0.1:{port}/admin/  user {credentials['username']}"
                    f"  password {credentials['password']}",
                    "Try: curl -X POST http://127.0.0.1:{port}/v1/datamarts/{d}/user_activities "
                    "-H 'Authorization: {k}' -H 'Content-Type: application/json' "
                    '-d \'{{"$ts": 1700000000000, "$type": "SITE_VISIT", "$user_agent_id": "vec:1"}}\''.format(
                        port=port, d=credentials["datamart_id"], k=credentials["api_key"]
                    ),
                    "",
                ]
            )
        )

    @transaction.atomic
    def create(self) -> dict[str, Any]:
        datamart = datamart_create(name="Demo")
        processing = processing_create(datamart=datamart, name="Marketing e-mails", legal_basis=LegalBasis.CONSENT)
        key = api_key_create(datamart=datamart, name="demo", scopes=["ingest", "read", "write"])
        user_model = get_user_model()
        password = secrets.token_urlsafe(12)
        user, _ = user_model.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return {
            "datamart_id": datamart.pk,
            "default_compartment_id": datamart.compartments.get(is_default=True).pk,
            "processing_id": processing.pk,
            "api_key": key.raw_key,
            "username": user.get_username(),
            "password": password,
        }
