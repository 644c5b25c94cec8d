from __future__ import annotations

from django.db import models

from apps.datamarts.models import Compartment, Datamart
from apps.userpoints.models import UserPoint

# A profile with no user account is the point's anonymous profile in that compartment.
ANONYMOUS_ACCOUNT = ""


class Profile(models.Model):
    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE)
    user_point = models.ForeignKey(UserPoint, on_delete=models.CASCADE, related_name="profiles")
    compartment = models.ForeignKey(Compartment, on_delete=models.CASCADE)
    user_account_id = models.CharField("user account id", max_length=255, blank=True, default=ANONYMOUS_ACCOUNT)
    properties = models.JSONField(default=dict)
    creation_ts = models.DateTimeField(
        "created",
    )
    last_modified_ts = models.DateTimeField(
        "last modified",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user_point", "compartment", "user_account_id"], name="profile_unique_per_point"
            ),
        ]

    def __str__(self) -> str:
        # Shown in page titles and breadcrumbs to every console role: no account id (it may be an address).
        return f"profile {self.pk} of {self.user_point_id}"
