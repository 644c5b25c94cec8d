from __future__ import annotations

from django.db import models
from django.db.models import Q

from apps.datamarts.personal import default_personal_properties


class LegalBasis(models.TextChoices):
    CONSENT = "CONSENT"
    CONTRACTUAL_PERFORMANCE = "CONTRACTUAL_PERFORMANCE"
    LEGAL_OBLIGATION = "LEGAL_OBLIGATION"
    PUBLIC_INTEREST_OR_EXERCISE_OF_OFFICIAL_AUTHORITY = "PUBLIC_INTEREST_OR_EXERCISE_OF_OFFICIAL_AUTHORITY"
    LEGITIMATE_INTEREST = "LEGITIMATE_INTEREST"


class Scope(models.TextChoices):
    INGEST = "ingest"
    READ = "read"
    WRITE = "write"


class Datamart(models.Model):
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField("created", auto_now_add=True)
    personal_properties = models.JSONField(
        default=default_personal_properties,
        blank=True,
        help_text="Property names whose values are masked for marketers, at any depth of profiles and activities.",
    )
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        help_text="Web origins (https://www.example.com) whose pages may send to the ingestion routes; "
        "empty: any origin. Requests without an Origin (from servers) are not affected.",
    )
    retention_days = models.PositiveIntegerField(
        "retention (days)",
        null=True,
        blank=True,
        help_text="Activities and processed inbox payloads stored longer ago than this are deleted (daily); "
        "empty: kept forever.",
    )

    def __str__(self) -> str:
        return f"{self.name} ({self.pk})"


class Compartment(models.Model):
    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE, related_name="compartments")
    name = models.CharField(max_length=200)
    is_default = models.BooleanField("default", default=False)
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        constraints = [
            # Exactly one default per datamart is enforced by the database, not by the code that creates it.
            models.UniqueConstraint(fields=["datamart"], condition=Q(is_default=True), name="one_default_compartment"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.pk})"


class Processing(models.Model):
    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE, related_name="processings")
    name = models.CharField(max_length=200)
    legal_basis = models.CharField("legal basis", max_length=64, choices=LegalBasis.choices)
    created_at = models.DateTimeField("created", auto_now_add=True)
    consent_categories = models.JSONField(
        default=list,
        blank=True,
        help_text="Consent categories of websites' consent managers that decide this processing (Segment's "
        "categoryPreferences names, OneTrust ids such as C0004 for RudderStack); compared case-insensitively.",
    )
    gpc_opt_out = models.BooleanField(
        default=False,
        help_text="A request with Global Privacy Control (Sec-GPC: 1) refuses this processing for its user.",
    )

    def __str__(self) -> str:
        return f"{self.name} ({self.pk})"


class ApiKey(models.Model):
    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE, related_name="api_keys")
    compartment = models.ForeignKey(Compartment, on_delete=models.PROTECT, null=True, blank=True)
    name = models.CharField(max_length=200)
    # SHA-256 of the secret: keys are 256-bit random tokens, so a fast hash cannot be brute-forced.
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(
        "key prefix", max_length=16, help_text="The first characters of the key, to recognise it."
    )
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField("created", auto_now_add=True)
    revoked_at = models.DateTimeField("revoked", null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
