from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.datamarts.models import Datamart


class DatamartAccess(models.Model):
    """A console user may see this datamart. A staff user with none sees nothing (tenancy fails closed)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datamart_accesses")
    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE, related_name="console_accesses")

    class Meta:
        verbose_name = "datamart access"
        verbose_name_plural = "datamart accesses"
        constraints = [models.UniqueConstraint(fields=["user", "datamart"], name="console_access_unique")]
        # The console's own rights, beyond the model permissions of the other apps; the roles grant them.
        permissions = [
            ("view_email", "Can see e-mail addresses unmasked"),
            ("export_userpoint", "Can export a user point (spec 1.7)"),
            ("erase_userpoint", "Can erase a user point (spec 1.7)"),
            ("view_consent_report", "Can see consent counts per processing and export them as CSV"),
            ("record_choice", "Can record a consent choice given to the privacy officer (source CONSOLE)"),
        ]

    def __str__(self) -> str:
        return f"{self.user} → datamart {self.datamart_id}"
