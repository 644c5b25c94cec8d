"""Every ModelAdmin of the console. All derive from TenantAdmin (the site refuses any other), so every list,
search, detail page, action and export is limited to the user's datamarts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.core.paginator import InvalidPage
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from apps.activities.models import Activity, InboxPayload, ProcessingError, Source
from apps.choices.models import Choice, ChoiceChangeLogEntry
from apps.choices.services import choice_apply
from apps.console.columns import answer_column, compact_id, viewer_display
from apps.console.filters import (
    AcceptanceFilter,
    AccessUserFilter,
    ActivityTypeFilter,
    CompartmentFilter,
    DatamartFilter,
    DateRangeFilter,
    EventNameFilter,
    EventTimeRangeFilter,
    PointCompartmentFilter,
    PointConsentFilter,
    ProcessingFilter,
    event_names_in,
)
from apps.console.models import AccessEvent, AccessLogEntry, DatamartAccess
from apps.console.paginator import NoCountPaginator
from apps.console.rendering import NOTHING, erasure_counts_text, kv_table, ms_to_datetime
from apps.console.search import user_points_search
from apps.console.services import access_log_record
from apps.console.tenancy import (
    ReadOnlyTenantAdmin,
    SuperuserOnlyAdmin,
    TenantAdmin,
    request_viewer,
    visible_datamart_ids,
)
from apps.console.viewer import Viewer
from apps.core.cors import origins_normalise
from apps.core.validation import is_id_text, text_problem
from apps.datamarts.models import ApiKey, Compartment, Datamart, Processing, Scope
from apps.datamarts.services import (
    api_key_create,
    api_key_revoke,
    compartment_create,
    consent_categories_normalise,
    datamart_create,
    processing_create,
)
from apps.profiles.models import Profile
from apps.userpoints.erasure import user_point_erase
from apps.userpoints.export import user_point_export
from apps.userpoints.identifiers import USER_ACCOUNT, USER_EMAIL
from apps.userpoints.models import ErasureRecord, HyperPointRefusal, UserIdentifier, UserPoint, UserPointMerge

TIMELINE_PAGE = 20


def _choice_time(text: str, now: datetime) -> datetime | None:
    """The time a person made a choice, as a privacy officer enters it (a datetime-local value, read in the time
    zone the page showed it in); empty means now; None when it is not a time, or lies in the future."""
    if not text.strip():
        return now
    try:
        made = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if made.tzinfo is None:
        made = made.replace(tzinfo=timezone.get_current_timezone())
    if made > now + timedelta(minutes=1) or made.year < 1970:
        return None
    return made


def identifiers_summary(rows: list[UserIdentifier], viewer: Viewer, *, shown: int) -> SafeString:
    """The first `shown` identifiers of a person as the viewer may see them, and how many more there are."""
    listed = format_html_join(", ", "{}", ((identifier_text(r, viewer),) for r in rows[:shown]))
    more = format_html(" … and {} more", len(rows) - shown) if len(rows) > shown else ""
    return format_html("{}{}", listed, more)


def point_link(point_id: Any) -> SafeString:
    if point_id is None:
        return format_html("{}", NOTHING)
    url = reverse("admin:userpoints_userpoint_change", args=[point_id])
    return format_html('<a href="{}">{}</a>', url, compact_id(point_id))


def identifier_text(row: UserIdentifier, viewer: Viewer) -> str:
    """One identifier as the viewer may see it: e-mail addresses, phone identifiers and addresses inside account
    or agent ids masked for a marketer; an e-mail hash replaced by its tag (a hash confirms a guessed address)."""
    policy = viewer.policy(row.datamart_id)
    if row.type == USER_ACCOUNT:
        return f"account {viewer.text(row.user_account_id, row.datamart_id)} (compartment {row.compartment_id})"
    if row.type == USER_EMAIL:
        if row.email:
            return f"e-mail {viewer.address(row.email, row.datamart_id)}"
        email_hash = row.email_hash or ""
        return f"e-mail hash {policy.tag(email_hash) if policy else email_hash[:12] + '…'}"
    return f"agent {viewer.text(row.user_agent_id, row.datamart_id)}"


# --- users, groups and their datamarts (superusers only) ------------------------------------------------------


class DatamartAccessInline(admin.TabularInline):  # type: ignore[type-arg]
    model = DatamartAccess
    extra = 1


# django.contrib.auth registered its own admins on this site during autodiscovery: replace them.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class ConsoleUserAdmin(SuperuserOnlyAdmin, UserAdmin):  # type: ignore[type-arg]
    inlines = [DatamartAccessInline]


@admin.register(Group)
class ConsoleGroupAdmin(SuperuserOnlyAdmin, GroupAdmin):
    pass


# --- configuration (administrators) ---------------------------------------------------------------------------


def _grant_creator(request: HttpRequest, datamart: Datamart) -> None:
    """An administrator who creates a datamart must be able to see it (superusers see all anyway)."""
    if not request.user.is_superuser:
        DatamartAccess.objects.get_or_create(user_id=request.user.pk, datamart=datamart)


class LineListField(forms.CharField):
    """A list of strings edited one per line (or separated by commas); `normalise` checks and rewrites the list."""

    widget = forms.Textarea(attrs={"rows": 8, "cols": 40})

    def __init__(self, *, normalise: Callable[[list[str]], list[str]] | None = None, **kwargs: Any) -> None:
        self.normalise = normalise
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        names: list[str] = []
        for part in text.replace(",", "\n").splitlines():
            name = part.strip()
            if name and name not in names:
                names.append(name)
        if self.normalise is None:
            return names
        try:
            return self.normalise(names)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class DatamartForm(forms.ModelForm):  # type: ignore[type-arg]
    personal_properties = LineListField(
        required=False,
        help_text="Property names whose values marketers see masked, at any depth of profiles and activities. "
        "E-mail addresses, phone identifiers and IP addresses are masked wherever they appear, whatever this list.",
    )
    allowed_origins = LineListField(
        required=False,
        normalise=origins_normalise,
        help_text="Web origins whose pages may send to the ingestion routes (https://www.example.com, one per "
        "line); empty: any origin. Requests from servers (without an Origin header) are never refused.",
    )

    class Meta:
        model = Datamart
        fields = ("name", "personal_properties", "allowed_origins", "retention_days")


@admin.register(Datamart)
class DatamartAdmin(TenantAdmin):
    datamart_path = "pk"
    form = DatamartForm
    list_display = ("id", "name", "created_at")
    search_fields = ("name",)
    fields = ("name", "personal_properties", "allowed_origins", "retention_days")
    ordering = ("pk",)

    def save_model(self, request: HttpRequest, obj: Datamart, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["name", "personal_properties", "allowed_origins", "retention_days"])
            return
        created = datamart_create(
            name=obj.name,
            personal_properties=obj.personal_properties,
            allowed_origins=obj.allowed_origins,
            retention_days=obj.retention_days,
        )
        obj.pk, obj.created_at = created.pk, created.created_at
        _grant_creator(request, created)


@admin.register(Compartment)
class CompartmentAdmin(TenantAdmin):
    list_display = ("id", "name", "datamart_number", "is_default_words", "created_at")
    is_default_words = answer_column("is_default", "default")
    list_filter = (DatamartFilter,)
    ordering = ("datamart_id", "pk")

    def get_fields(self, request: HttpRequest, obj: Compartment | None = None) -> Any:
        return ("datamart", "name", "is_default") if obj else ("datamart", "name")

    def get_readonly_fields(self, request: HttpRequest, obj: Compartment | None = None) -> Any:
        # The default is fixed at the datamart's creation; a compartment never moves to another datamart.
        return ("datamart", "is_default") if obj else ()

    def save_model(self, request: HttpRequest, obj: Compartment, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        created = compartment_create(datamart=form.cleaned_data["datamart"], name=obj.name)
        obj.pk, obj.created_at = created.pk, created.created_at


class ProcessingForm(forms.ModelForm):  # type: ignore[type-arg]
    consent_categories = LineListField(
        required=False,
        normalise=consent_categories_normalise,
        help_text="Consent categories of websites' consent managers that decide this processing, one per line: "
        "Segment categoryPreferences names (Advertising), OneTrust ids for RudderStack (C0004), the keys of Braze "
        "and Thrivestack `consent` objects. Compared case-insensitively.",
    )

    class Meta:
        model = Processing
        fields = ("datamart", "name", "legal_basis", "consent_categories", "gpc_opt_out")


@admin.register(Processing)
class ProcessingAdmin(TenantAdmin):
    form = ProcessingForm
    list_display = ("id", "name", "datamart_number", "legal_basis", "categories", "gpc_opt_out_words", "created_at")
    list_filter = (DatamartFilter, "legal_basis")
    gpc_opt_out_words = answer_column("gpc_opt_out", "refused by Global Privacy Control")

    @admin.display(description="consent categories")
    def categories(self, obj: Processing) -> str:
        return ", ".join(obj.consent_categories or []) or NOTHING

    ordering = ("datamart_id", "pk")

    def get_readonly_fields(self, request: HttpRequest, obj: Processing | None = None) -> Any:
        return ("datamart",) if obj else ()

    def save_model(self, request: HttpRequest, obj: Processing, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["name", "legal_basis", "consent_categories", "gpc_opt_out"])
            return
        created = processing_create(
            datamart=form.cleaned_data["datamart"],
            name=obj.name,
            legal_basis=form.cleaned_data["legal_basis"],
            consent_categories=form.cleaned_data["consent_categories"],
            gpc_opt_out=form.cleaned_data["gpc_opt_out"],
        )
        obj.pk, obj.created_at = created.pk, created.created_at


class ApiKeyAddForm(forms.ModelForm):  # type: ignore[type-arg]
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices, widget=forms.CheckboxSelectMultiple, initial=[Scope.INGEST, Scope.READ]
    )

    class Meta:
        model = ApiKey
        fields = ("datamart", "compartment", "name")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        compartment, datamart = data.get("compartment"), data.get("datamart")
        if compartment is not None and datamart is not None and compartment.datamart_id != datamart.pk:
            self.add_error("compartment", "This compartment belongs to another datamart.")
        return data


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdmin):
    list_display = ("name", "key_prefix", "datamart_number", "compartment_number", "scope_list", "created_at", "status")

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes or [])

    list_filter = (DatamartFilter,)
    ordering = ("-created_at",)
    actions = ["revoke_keys"]
    add_form = ApiKeyAddForm
    readonly_fields = ("datamart", "compartment", "name", "key_prefix", "scopes", "created_at", "revoked_at")

    @admin.display(description="status")
    def status(self, obj: ApiKey) -> str:
        return "active" if obj.revoked_at is None else "revoked"

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        return self.readonly_fields if obj else ("datamart", "compartment", "name", "scopes")

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        # A key is never edited: a changed key is a new key. It can only be revoked (the action).
        return self.readonly_fields if obj else ()

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            return
        created = api_key_create(
            datamart=form.cleaned_data["datamart"],
            name=form.cleaned_data["name"],
            scopes=list(form.cleaned_data["scopes"]),
            compartment=form.cleaned_data.get("compartment"),
        )
        obj.pk, obj.created_at = created.api_key.pk, created.api_key.created_at
        request._console_raw_key = created.raw_key  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        # The secret is shown on this page only: not in a message (those travel in cookies), never stored.
        context = {
            **self.admin_site.each_context(request),
            "title": "API key created",
            "api_key": obj,
            "raw_key": getattr(request, "_console_raw_key", ""),
            "opts": self.opts,
        }
        response = TemplateResponse(request, "console/api_key_created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke the selected API keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=api_key)
            revoked += 1
        self.message_user(request, f"{revoked} API key(s) revoked.", messages.SUCCESS)


# --- user points ----------------------------------------------------------------------------------------------


@admin.register(UserPoint)
class UserPointAdmin(ReadOnlyTenantAdmin):
    list_display = ("point", "datamart_number", "creation_ts", "is_hyper_words", "identifier_summary")
    is_hyper_words = answer_column("is_hyper", "hyper point")
    list_display_links = None  # the `point` column is the link (the admin would wrap it in a second, empty one)
    list_filter = (
        DatamartFilter,
        ("creation_ts", DateRangeFilter),
        PointCompartmentFilter,
        PointConsentFilter,
        "is_hyper",
    )
    # The search is ours (get_search_results); a search field must exist for the admin to show the box.
    search_fields = ("id",)
    search_help_text = "A user point id, user account id, user agent id, e-mail address or e-mail hash (exact match)."
    ordering = ("-creation_ts", "-id")
    sortable_by = ("creation_ts",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # Loads the identifiers of the page's points in one query, whatever the page size.
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("identifiers", queryset=UserIdentifier.objects.order_by("creation_ts", "id")))
        )

    @admin.display(description="user point", ordering="id")
    def point(self, obj: UserPoint) -> SafeString:
        return point_link(obj.id)

    @viewer_display("identifiers")
    def identifier_summary(self, obj: UserPoint, viewer: Viewer) -> SafeString:
        return identifiers_summary(list(obj.identifiers.all()), viewer, shown=4)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        return user_points_search(queryset, search_term, visible_datamart_ids(request.user)), False

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/export/", view(self.export_view), name="userpoints_userpoint_export"),
            path("<path:object_id>/erase/", view(self.erase_view), name="userpoints_userpoint_erase"),
            path("<path:object_id>/choice/", view(self.choice_view), name="userpoints_userpoint_choice"),
            *super().get_urls(),
        ]

    def _point(self, request: HttpRequest, object_id: str) -> UserPoint:
        try:
            point_uuid = uuid.UUID(unquote(object_id))
        except ValueError:
            raise Http404("Not a user point id") from None
        point = self.get_object(request, str(point_uuid))
        if point is None:
            # Perhaps merged away: its id keeps leading to the survivor, within the user's datamarts.
            survivor = user_points_search(
                self.get_queryset(request), str(point_uuid), visible_datamart_ids(request.user)
            )
            point = survivor.first()
            if point is None:
                raise Http404("No such user point in your datamarts")
        if not self.has_view_permission(request, point):
            raise PermissionDenied
        return point

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        point = self._point(request, object_id)
        if str(point.id) != unquote(object_id):
            return HttpResponseRedirect(reverse("admin:userpoints_userpoint_change", args=[point.id]))
        user = request.user
        viewer = request_viewer(request)
        access_log_record(
            request=request, event=AccessEvent.VIEW_POINT, datamart_ids=[point.datamart_id], user_point_id=point.id
        )
        datamart_id = point.datamart_id
        identifiers = [
            {"row": row, "text": identifier_text(row, viewer)}
            for row in UserIdentifier.objects.filter(user_point=point)
            .select_related("compartment")
            .order_by("creation_ts", "id")
        ]
        profiles = [
            {
                "profile": p,
                "account": viewer.text(p.user_account_id, datamart_id),
                "table": kv_table(viewer.value(p.properties, datamart_id)),
            }
            for p in Profile.objects.filter(user_point=point)
            .select_related("compartment")
            .order_by("compartment_id", "user_account_id")
        ]
        choices = {c.processing_id: c for c in Choice.objects.filter(user_point=point)}
        consent = [
            {
                "processing": p,
                "choice": choices.get(p.pk),
                "choice_time": ms_to_datetime(choices[p.pk].choice_ts) if p.pk in choices else None,
            }
            for p in Processing.objects.filter(datamart_id=point.datamart_id).order_by("pk")
        ]
        history = None
        if user.has_perm("choices.view_choicechangelogentry"):
            # In the order consent is decided by ($choice_ts), not the order of recording; every custom field shown.
            history = [
                {
                    "entry": e,
                    "choice_time": ms_to_datetime(e.choice_ts),
                    "fields": {k: v for k, v in (e.custom_fields or {}).items() if k not in ("signal", "categories")},
                }
                for e in ChoiceChangeLogEntry.objects.filter(user_point=point)
                .select_related("processing")
                .order_by("choice_ts", "id")
            ]
        paginator = NoCountPaginator(
            Activity.objects.filter(user_point=point).order_by("-ts", "-id"),
            TIMELINE_PAGE,
            page_number=request.GET.get("page", 1),
        )
        try:
            page = paginator.page(paginator.current)
        except InvalidPage:
            raise Http404("No such page of activities") from None
        timeline = [self._activity_row(a, viewer) for a in page.object_list]
        errors = None
        if user.has_perm("activities.view_processingerror"):
            errors = list(ProcessingError.objects.filter(user_point=point).order_by("-created_at")[:100])
        context = {
            **self.admin_site.each_context(request),
            "title": f"User point {point.id}",
            "subtitle": None,
            "opts": self.opts,
            "point": point,
            "identifiers": identifiers,
            "profiles": profiles,
            "consent": consent,
            "history": history,
            "timeline": timeline,
            "page": page,
            "merges": [
                {"merge": m, "trigger_ref": viewer.text(m.trigger_ref, datamart_id)}
                for m in UserPointMerge.objects.filter(survivor=point).order_by("merged_at")
            ],
            "refusals": [
                {
                    "refusal": r,
                    "trigger_ref": viewer.text(r.trigger_ref, datamart_id),
                    "table": kv_table(viewer.value(r.refused_identifiers, datamart_id)),
                }
                for r in HyperPointRefusal.objects.filter(user_point=point).order_by("created_at")
            ],
            "errors": errors,
            "masked": viewer.masked,
            "can_export": user.has_perm("console.export_userpoint"),
            "can_erase": user.has_perm("console.erase_userpoint"),
            "can_record_choice": user.has_perm("console.record_choice"),
            "zone_name": str(timezone.get_current_timezone()),
        }
        return TemplateResponse(request, "console/userpoint_detail.html", context)

    @staticmethod
    def _activity_row(activity: Activity, viewer: Viewer) -> dict[str, Any]:
        shown = viewer.value(activity.document, activity.datamart_id)
        document = shown if isinstance(shown, dict) else {}
        raw_events = document.get("$events")
        events: list[Any] = raw_events if isinstance(raw_events, list) else []
        return {
            "activity": activity,
            "time": ms_to_datetime(activity.ts),
            "events": [
                {
                    "name": e.get("$event_name", "?") if isinstance(e, dict) else "?",
                    "time": ms_to_datetime(e.get("$ts"))
                    if isinstance(e, dict) and isinstance(e.get("$ts"), int)
                    else None,
                    "table": kv_table(e.get("$properties", {}) if isinstance(e, dict) else e),
                }
                for e in events
            ],
            "document": kv_table(document),
        }

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm("console.export_userpoint"):
            raise PermissionDenied
        point = self._point(request, object_id)
        document = user_point_export(datamart_id=point.datamart_id, user_point_id=point.id)
        access_log_record(
            request=request, event=AccessEvent.EXPORT, datamart_ids=[point.datamart_id], user_point_id=point.id
        )
        response = HttpResponse(
            json.dumps(document, indent=2, default=str, ensure_ascii=False), content_type="application/json"
        )
        response["Content-Disposition"] = f'attachment; filename="user-point-{point.id}.json"'
        response["Cache-Control"] = "no-store"
        return response

    def choice_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Records a choice a person gave the privacy officer (by mail, on the phone) through choice_apply, the
        function the pipeline and the API use: same rules ($choice_ts decides), same change-log entry, with
        source CONSOLE and the officer's name as its reference."""
        if not request.user.has_perm("console.record_choice"):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        point = self._point(request, object_id)
        raw_processing = request.POST.get("processing_id", "")
        processing = (
            Processing.objects.filter(datamart_id=point.datamart_id, pk=int(raw_processing)).first()
            if is_id_text(raw_processing)
            else None
        )
        value = request.POST.get("acceptance_value")
        now = timezone.now()
        made_at = _choice_time(request.POST.get("choice_time", ""), now)
        evidence = request.POST.get("evidence", "").strip()[:500]
        if processing is None or value not in ("true", "false"):
            self.message_user(request, "Choose a processing of this datamart and accepted or refused.", messages.ERROR)
        elif made_at is None:
            self.message_user(request, "The choice time must be a date and time, not in the future.", messages.ERROR)
        elif text_problem(evidence):
            self.message_user(request, "The evidence holds a character that cannot be stored.", messages.ERROR)
        else:
            with transaction.atomic():
                choice_apply(
                    datamart_id=point.datamart_id,
                    user_point_id=point.id,
                    processing_id=processing.pk,
                    choice_ts=int(made_at.timestamp() * 1000),
                    acceptance_value=value == "true",
                    custom_fields={"evidence": evidence} if evidence else {},
                    source=Source.CONSOLE,
                    source_ref=f"console:{request.user.get_username()}",
                    now=now,
                )
                access_log_record(
                    request=request,
                    event=AccessEvent.RECORD_CHOICE,
                    datamart_ids=[point.datamart_id],
                    user_point_id=point.id,
                    query=f"processing {processing.pk}: {'accepted' if value == 'true' else 'refused'}",
                )
            self.message_user(request, f"Choice recorded for {processing.name}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:userpoints_userpoint_change", args=[point.id]) + "#consent")

    def erase_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm("console.erase_userpoint"):
            raise PermissionDenied
        point = self._point(request, object_id)
        if request.method == "POST":
            record = user_point_erase(
                datamart_id=point.datamart_id, user_point_id=point.id, actor=f"console:{request.user.get_username()}"
            )
            access_log_record(
                request=request, event=AccessEvent.ERASURE, datamart_ids=[point.datamart_id], user_point_id=point.id
            )
            self.message_user(request, f"User point {record.user_point_id} was erased.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:userpoints_erasurerecord_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Erase this user point?",
            "opts": self.opts,
            "point": point,
            "identifiers": [
                identifier_text(row, request_viewer(request))
                for row in UserIdentifier.objects.filter(user_point=point).order_by("creation_ts", "id")
            ],
            "counts": [
                (UserIdentifier.objects.filter(user_point=point).count(), "identifier", "identifiers"),
                (Profile.objects.filter(user_point=point).count(), "profile", "profiles"),
                (Choice.objects.filter(user_point=point).count(), "choice", "choices"),
                (
                    ChoiceChangeLogEntry.objects.filter(user_point=point).count(),
                    "consent change-log entry",
                    "consent change-log entries",
                ),
                (Activity.objects.filter(user_point=point).count(), "activity", "activities"),
            ],
        }
        return TemplateResponse(request, "console/userpoint_erase.html", context)


@admin.register(UserIdentifier)
class UserIdentifierAdmin(ReadOnlyTenantAdmin):
    list_display = ("type", "shown", "user_point_link", "compartment_number", "creation_ts", "last_activity_ts")
    list_filter = (DatamartFilter, "type", CompartmentFilter, ("creation_ts", DateRangeFilter))
    ordering = ("-id",)  # newest first through the primary key: creation_ts has no index here
    sortable_by = ("id",)
    # The raw key, account, hash, address and agent id columns are shown only through `shown`, masked as needed.
    fields = ("type", "shown", "user_point_link", "compartment", "creation_ts", "last_activity_ts")
    readonly_fields = fields

    @viewer_display("identifier")
    def shown(self, obj: UserIdentifier, viewer: Viewer) -> str:
        return identifier_text(obj, viewer)

    @admin.display(description="user point")
    def user_point_link(self, obj: UserIdentifier) -> SafeString:
        return point_link(obj.user_point_id)


class JsonTableMixin:
    """Renders a JSON field of the detail page as a key/value table, as the viewer may see it."""

    json_field = ""

    @viewer_display("content")
    def json_table(self, obj: Any, viewer: Viewer) -> SafeString:
        return kv_table(viewer.value(getattr(obj, self.json_field), obj.datamart_id))


@admin.register(Profile)
class ProfileAdmin(JsonTableMixin, ReadOnlyTenantAdmin):
    json_field = "properties"
    list_display = ("id", "user_point_link", "compartment_number", "account", "creation_ts", "last_modified_ts")
    list_filter = (DatamartFilter, CompartmentFilter, ("last_modified_ts", DateRangeFilter))
    ordering = ("-id",)  # newest first through the primary key: last_modified_ts has no index
    sortable_by = ("id",)
    fields = ("user_point", "compartment", "account", "creation_ts", "last_modified_ts", "json_table")
    readonly_fields = fields

    @viewer_display("user account id")
    def account(self, obj: Profile, viewer: Viewer) -> str:
        return viewer.text(obj.user_account_id, obj.datamart_id) if obj.user_account_id else "(anonymous profile)"

    @admin.display(description="user point")
    def user_point_link(self, obj: Profile) -> SafeString:
        return point_link(obj.user_point_id)


@admin.register(Activity)
class ActivityAdmin(JsonTableMixin, ReadOnlyTenantAdmin):
    json_field = "document"
    # The arrival time is a filter and on the detail page: seven columns and the filters overflow a laptop screen.
    list_display = ("time", "type", "events", "who", "user_point_link", "source")
    list_display_links = ("time",)
    list_filter = (
        DatamartFilter,
        ActivityTypeFilter,
        EventNameFilter,
        "source",
        ("ts", EventTimeRangeFilter),
        ("created_at", DateRangeFilter),
    )
    # Newest events first, through the (datamart, ts) index; the arrival time is a column and a filter.
    ordering = ("-ts", "-id")
    sortable_by = ("ts",)
    fields = ("id", "user_point", "type", "time", "event_names", "source", "created_at", "json_table")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # The identifiers of the page's people in one more query, whatever the page size.
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("user_point__identifiers", queryset=UserIdentifier.objects.order_by("creation_ts", "id"))
            )
        )

    @admin.display(description="event time", ordering="ts")
    def time(self, obj: Activity) -> Any:
        return ms_to_datetime(obj.ts)

    @admin.display(description="events")
    def events(self, obj: Activity) -> str:
        names = event_names_in(obj.document)
        shown = ", ".join(names[:3])
        return f"{shown} … and {len(names) - 3} more" if len(names) > 3 else shown or NOTHING

    @admin.display(description="event names")
    def event_names(self, obj: Activity) -> str:
        return ", ".join(event_names_in(obj.document)) or NOTHING

    @viewer_display("who")
    def who(self, obj: Activity, viewer: Viewer) -> SafeString:
        return identifiers_summary(list(obj.user_point.identifiers.all()), viewer, shown=2)

    @admin.display(description="user point")
    def user_point_link(self, obj: Activity) -> SafeString:
        return point_link(obj.user_point_id)


@admin.register(Choice)
class ChoiceAdmin(ReadOnlyTenantAdmin):
    list_display = ("id", "user_point_link", "processing", "answer", "choice_time", "source", "last_modified_ts")
    answer = answer_column("acceptance_value", "answer", yes="accepted", no="refused")
    list_select_related = ("processing",)
    list_filter = (DatamartFilter, ProcessingFilter, AcceptanceFilter, ("last_modified_ts", DateRangeFilter))
    ordering = ("-id",)  # newest first through the primary key: last_modified_ts has no index
    sortable_by = ("id",)
    fields = (
        "user_point_link",
        "processing",
        "answer",
        "choice_time",
        "source",
        "custom_fields_table",
        "creation_ts",
        "last_modified_ts",
    )
    readonly_fields = fields

    @admin.display(description="choice time ($choice_ts)", ordering="choice_ts")
    def choice_time(self, obj: Choice) -> Any:
        return ms_to_datetime(obj.choice_ts)

    @viewer_display("custom fields")
    def custom_fields_table(self, obj: Choice, viewer: Viewer) -> SafeString:
        return kv_table(viewer.value(obj.custom_fields, obj.datamart_id))

    @admin.display(description="user point")
    def user_point_link(self, obj: Choice) -> SafeString:
        return point_link(obj.user_point_id)


@admin.register(ChoiceChangeLogEntry)
class ChoiceChangeLogEntryAdmin(ReadOnlyTenantAdmin):
    """The consent change log: read-only for everyone, superusers included (spec 1.6)."""

    list_display = (
        "id",
        "user_point_link",
        "processing",
        "answer",
        "previous_answer",
        "applied_words",
        "source",
        "signal",
        "source_ref",
        "choice_time",
        "recorded_ts",
    )
    list_select_related = ("processing",)
    list_filter = (
        DatamartFilter,
        ProcessingFilter,
        AcceptanceFilter,
        "source",
        "applied",
        ("recorded_ts", DateRangeFilter),
    )
    ordering = ("-id",)
    sortable_by = ("id",)

    answer = answer_column("acceptance_value", "answer", yes="accepted", no="refused")
    previous_answer = answer_column("previous_acceptance_value", "previous answer", yes="accepted", no="refused")
    applied_words = answer_column("applied", "applied")

    @admin.display(description="choice time ($choice_ts)", ordering="choice_ts")
    def choice_time(self, obj: ChoiceChangeLogEntry) -> Any:
        return ms_to_datetime(obj.choice_ts)

    @admin.display(description="signal")
    def signal(self, obj: ChoiceChangeLogEntry) -> str:
        fields = obj.custom_fields if isinstance(obj.custom_fields, dict) else {}
        return str(fields.get("signal") or "-")

    @admin.display(description="user point")
    def user_point_link(self, obj: ChoiceChangeLogEntry) -> SafeString:
        return point_link(obj.user_point_id)


@admin.register(UserPointMerge)
class UserPointMergeAdmin(ReadOnlyTenantAdmin):
    list_display = ("merged_point", "survivor_link", "merged_at", "trigger_source", "trigger")
    list_display_links = ("merged_point",)

    @admin.display(description="merged user point")
    def merged_point(self, obj: UserPointMerge) -> SafeString | str:
        return compact_id(obj.merged_user_point_id)

    list_filter = (DatamartFilter, ("merged_at", DateRangeFilter))
    ordering = ("-id",)
    sortable_by = ("id",)
    fields = ("merged_user_point_id", "survivor_link", "merged_creation_ts", "merged_at", "trigger_source", "trigger")
    readonly_fields = fields

    @viewer_display("triggered by")
    def trigger(self, obj: UserPointMerge, viewer: Viewer) -> str:
        return viewer.text(obj.trigger_ref, obj.datamart_id)

    @admin.display(description="survivor")
    def survivor_link(self, obj: UserPointMerge) -> SafeString:
        return point_link(obj.survivor_id)


@admin.register(HyperPointRefusal)
class HyperPointRefusalAdmin(JsonTableMixin, ReadOnlyTenantAdmin):
    json_field = "refused_identifiers"
    list_display = ("id", "user_point_link", "reason", "trigger", "created_at")
    list_filter = (DatamartFilter, ("created_at", DateRangeFilter))
    ordering = ("-id",)
    sortable_by = ("id",)
    fields = ("user_point", "reason", "other_user_point_ids", "trigger", "created_at", "json_table")
    readonly_fields = fields

    @viewer_display("triggered by")
    def trigger(self, obj: HyperPointRefusal, viewer: Viewer) -> str:
        return viewer.text(obj.trigger_ref, obj.datamart_id)

    @admin.display(description="user point")
    def user_point_link(self, obj: HyperPointRefusal) -> SafeString:
        return point_link(obj.user_point_id)


@admin.register(InboxPayload)
class InboxPayloadAdmin(JsonTableMixin, ReadOnlyTenantAdmin):
    json_field = "payload"
    list_display = ("payload", "source", "status", "attempts", "received_at", "processed_at", "short_error")
    list_display_links = ("payload",)

    @admin.display(description="payload", ordering="received_at")
    def payload(self, obj: InboxPayload) -> SafeString | str:
        return compact_id(obj.id)

    list_filter = (DatamartFilter, "status", "source", ("received_at", DateRangeFilter))
    ordering = ("-received_at",)
    sortable_by = ("received_at",)
    fields = (
        "id",
        "datamart",
        "source",
        "status",
        "attempts",
        "received_at",
        "processed_at",
        "next_attempt_at",
        "user_point_id",
        "last_error",
        "json_table",
    )
    readonly_fields = fields

    @admin.display(description="last error")
    def short_error(self, obj: InboxPayload) -> str:
        return obj.last_error[:80]


@admin.register(ProcessingError)
class ProcessingErrorAdmin(ReadOnlyTenantAdmin):
    list_display = ("id", "payload", "user_point_link", "message", "created_at")

    @admin.display(description="payload")
    def payload(self, obj: ProcessingError) -> SafeString | str:
        return compact_id(obj.payload_id)

    @admin.display(description="user point")
    def user_point_link(self, obj: ProcessingError) -> SafeString:
        return point_link(obj.user_point_id)

    list_filter = (DatamartFilter, ("created_at", DateRangeFilter))
    ordering = ("-id",)
    sortable_by = ("id",)


@admin.register(ErasureRecord)
class ErasureRecordAdmin(ReadOnlyTenantAdmin):
    list_display = ("erased_point", "datamart_number", "erased_at", "actor", "deleted")
    list_display_links = ("erased_point",)
    list_filter = (DatamartFilter, ("erased_at", DateRangeFilter))
    search_fields = ("=user_point_id",)
    search_help_text = "The id of an erased user point (exact)."
    ordering = ("-erased_at", "-id")
    sortable_by = ("erased_at",)
    fields = ("user_point_id", "datamart", "erased_at", "actor", "deleted")
    readonly_fields = fields

    @admin.display(description="erased user point")
    def erased_point(self, obj: ErasureRecord) -> SafeString | str:
        return compact_id(obj.user_point_id)

    @admin.display(description="rows deleted")
    def deleted(self, obj: ErasureRecord) -> str:
        return erasure_counts_text(obj.counts)


@admin.register(AccessAttempt)
class SignInLockoutAdmin(SuperuserOnlyAdmin):
    """Failed sign-ins counted by django-axes; a superuser unlocks a username by deleting its row."""

    list_display = ("username", "failures_since_start", "attempt_time", "ip_address")
    search_fields = ("username",)
    ordering = ("-attempt_time",)
    readonly_fields = ("username", "failures_since_start", "attempt_time", "ip_address", "user_agent", "path_info")
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DatamartAccess)
class DatamartAccessAdmin(SuperuserOnlyAdmin):
    list_display = ("user", "datamart")
    list_select_related = ("user", "datamart")


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(ReadOnlyTenantAdmin):
    """The access log: read-only for everyone (the database refuses changes too); privacy officers and
    administrators read it, marketers cannot (no view permission)."""

    logs_access = False  # reading the log is not an access to a person's data
    list_display = ("at", "username", "event", "datamart_number", "point", "query", "ip")
    list_filter = (DatamartFilter, AccessUserFilter, "event", ("at", DateRangeFilter))
    search_fields = ("username",)
    search_help_text = "A user point id (its entries), or a username."
    ordering = ("-at", "-id")
    sortable_by = ("at",)
    fields = ("at", "username", "user_id", "event", "datamart", "point", "query", "ip", "path")
    readonly_fields = fields

    @admin.display(description="user point")
    def point(self, obj: AccessLogEntry) -> SafeString | str:
        return point_link(obj.user_point_id) if obj.user_point_id else "-"

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(user_point_id=uuid.UUID(term)), False
        except ValueError:
            return queryset.filter(username=term), False
