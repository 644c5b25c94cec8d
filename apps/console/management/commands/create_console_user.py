from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from apps.console.models import DatamartAccess
from apps.console.roles import ROLES
from apps.datamarts.models import Datamart


class Command(BaseCommand):
    help = "Creates (or updates) a console user with a role and the datamarts it may see."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument(
            "--datamart", action="append", default=[], help="A datamart id the user may see; repeat for several."
        )
        parser.add_argument("--email", default="")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["datamart"]:
            raise CommandError("give at least one --datamart: a console user sees only its datamarts")
        datamarts = []
        for raw in options["datamart"]:
            datamart = Datamart.objects.filter(pk=int(raw)).first() if str(raw).isdigit() else None
            if datamart is None:
                raise CommandError(f"no datamart {raw}")
            datamarts.append(datamart)
        group = Group.objects.filter(name=options["role"]).first()
        if group is None:
            raise CommandError(f"the role {options['role']} does not exist: run `manage.py migrate` first")
        user = User.objects.filter(username=options["username"]).first()
        try:
            validate_password(options["password"], user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        with transaction.atomic():
            created = user is None
            if user is None:
                user = User(username=options["username"])
            user.email = options["email"] or user.email
            user.is_staff = True  # the admin site admits staff only
            user.is_active = True
            user.set_password(options["password"])
            user.save()
            user.groups.add(group)
            for datamart in datamarts:
                DatamartAccess.objects.get_or_create(user=user, datamart=datamart)
        roles = sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        visible = sorted(DatamartAccess.objects.filter(user=user).values_list("datamart_id", flat=True))
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "user_id": str(user.pk),
                        "username": user.username,
                        "created": created,
                        "roles": roles,
                        "datamart_ids": [str(d) for d in visible],
                    }
                )
            )
        else:
            verb = "created" if created else "updated"
            shown = ", ".join(map(str, visible))
            self.stdout.write(f"console user {user.username} {verb}: roles {', '.join(roles)}; datamarts {shown}")
