from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError


def emit(command: BaseCommand, as_json: bool, fields: dict[str, Any], sentence: str) -> None:
    """Prints one JSON object with --json (ids as numeric strings, as the API renders them), else a sentence."""
    if as_json:
        command.stdout.write(json.dumps({k: (str(v) if isinstance(v, int) else v) for k, v in fields.items()}))
    else:
        command.stdout.write(sentence)


def datamart_or_fail(datamart_id: str) -> Any:
    from apps.datamarts.models import Datamart

    try:
        return Datamart.objects.get(pk=int(datamart_id))
    except (ValueError, Datamart.DoesNotExist):
        raise CommandError(f"no datamart {datamart_id}") from None
