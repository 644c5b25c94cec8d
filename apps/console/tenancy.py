"""Fail-closed tenancy for the console: which datamarts a user may see, and the ModelAdmin base that filters
every queryset by them (PostHog's TeamAndOrgViewSetMixin, for the admin)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import ShowFacets
from django.contrib.admin.views.main import SEARCH_VAR
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.console.columns import viewer_columns_bind
from apps.console.counting import audience_size
from apps.console.models import AccessEvent, DatamartAccess
from apps.console.paginator import NoCountPaginator
from apps.console.rendering import NOTHING
from apps.console.services import access_log_record
from apps.console.viewer import Viewer, viewer_build
from apps.datamarts.models import Compartment, Datamart, Processing

_CACHE_ATTR = "_console_datamart_ids"
_VIEWER_ATTR = "_console_viewer"


def visible_datamart_ids(user: Any) -> frozenset[int] | None:
    """The datamart ids `user` may see; None means all of them (superusers). Inactive or non-staff users: none."""
    if not getattr(user, "is_authenticated", False) or not user.is_active or not user.is_staff:
        return frozenset()
    if user.is_superuser:
        return None
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = frozenset(DatamartAccess.objects.filter(user=user).values_list("datamart_id", flat=True))
        setattr(user, _CACHE_ATTR, cached)  # one query per request: request.user lives for one request
    return cached


def request_viewer(request: HttpRequest) -> Viewer:
    """What this request's user may see, built once per request and kept on the request (which serves one request
    only), never on a ModelAdmin."""
    viewer = getattr(request, _VIEWER_ATTR, None)
    if viewer is None:
        viewer = viewer_build(request.user, visible_datamart_ids(request.user))
        setattr(request, _VIEWER_ATTR, viewer)
    return viewer


def search_scope(request: HttpRequest) -> list[int | None]:
    """The datamarts a console search covers: the one the list is filtered on, else every one the user may see
    (None: all of them, for a superuser)."""
    ids = visible_datamart_ids(request.user)
    chosen = request.GET.get("datamart", "")
    if chosen.isascii() and chosen.isdigit() and len(chosen) < 19:
        if ids is None and Datamart.objects.filter(pk=int(chosen)).exists():
            return [int(chosen)]
        if ids is not None and int(chosen) in ids:
            return [int(chosen)]
    if ids is None:
        return [None]
    return list(sorted(ids))


def restrict(queryset: QuerySet[Any], user: Any, path: str) -> QuerySet[Any]:
    """`queryset` limited to the user's datamarts through the lookup `path` ("datamart", "pk", ...)."""
    ids = visible_datamart_ids(user)
    if ids is None:
        return queryset
    return queryset.filter(**{f"{path}__in": ids})


def visible_datamarts(user: Any) -> QuerySet[Datamart]:
    return restrict(Datamart.objects.order_by("pk"), user, "pk")


class TenantAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Base of every console ModelAdmin: its querysets (lists, search, detail pages, actions, exports, the
    autocomplete) all come from `get_queryset`, which keeps only the user's datamarts. The site refuses to
    start with a ModelAdmin that does not derive from this (see ConsoleSite.get_urls).

    Lists are built for a datamart of millions of rows: no COUNT(*) (NoCountPaginator, no full result count,
    no facets), and no "show all"."""

    datamart_path = "datamart"
    # Searches, and openings of a record that belongs to a user point, go to the access log (spec 8).
    logs_access = True
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    list_per_page = 50
    list_max_show_all = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return restrict(super().get_queryset(request), request.user, self.datamart_path)

    # Columns of the datamart's and compartment's numbers, headed by their names, without a join per row.
    @admin.display(description="datamart", ordering="datamart_id")
    def datamart_number(self, obj: Any) -> Any:
        return obj.datamart_id if obj.datamart_id is not None else NOTHING

    @admin.display(description="compartment", ordering="compartment_id")
    def compartment_number(self, obj: Any) -> Any:
        return obj.compartment_id if obj.compartment_id is not None else NOTHING

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        term = request.GET.get(SEARCH_VAR, "").strip()
        if term and self.logs_access:
            access_log_record(
                request=request,
                event=AccessEvent.SEARCH,
                datamart_ids=search_scope(request),
                query=f"{self.opts.verbose_name_plural}: {term}",
            )
        # "User points", not Django's "Select user point to view".
        context = {"title": str(self.opts.verbose_name_plural).capitalize(), **(extra_context or {})}
        response = super().changelist_view(request, context)
        context_data = getattr(response, "context_data", None)
        if context_data is not None and context_data.get("cl") is not None:
            # How many rows the list holds with its filters and search: an audience size for a marketer.
            context_data["list_size"] = audience_size(context_data["cl"].queryset)
        return response

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        response = super().change_view(request, object_id, form_url, extra_context)
        context = getattr(response, "context_data", None) or {}
        record = context.get("original")
        point_id = getattr(record, "user_point_id", None)
        if self.logs_access and response.status_code == 200 and record is not None and point_id is not None:
            access_log_record(
                request=request,
                event=AccessEvent.VIEW_RECORD,
                datamart_ids=[record.datamart_id],
                user_point_id=point_id,
                query=f"{self.opts.verbose_name} {record.pk}",
            )
        return response

    # Columns and read-only fields that depend on the viewer (apps.console.columns) are bound per request here.
    def get_list_display(self, request: HttpRequest) -> Any:
        return viewer_columns_bind(self, super().get_list_display(request), lambda: request_viewer(request))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return viewer_columns_bind(self, super().get_fields(request, obj), lambda: request_viewer(request))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return viewer_columns_bind(self, super().get_readonly_fields(request, obj), lambda: request_viewer(request))

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: Any,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> NoCountPaginator:
        return NoCountPaginator(queryset, per_page, page_number=request.GET.get("p", 1))

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """Only the parameters of the page's own filters. The admin would also accept any lookup on the model's
        own fields (`?email__startswith=jo`), which would let a marketer probe a masked address letter by letter."""
        allowed: set[str] = set()
        for item in self.get_list_filter(request) if request is not None else self.list_filter:
            if isinstance(item, type) and issubclass(item, admin.SimpleListFilter):
                allowed.add(str(item.parameter_name))
                continue
            field = item[0] if isinstance(item, list | tuple) else item
            allowed |= {f"{field}__{suffix}" for suffix in ("exact", "isnull", "since", "until")}
        return lookup in allowed

    def has_module_permission(self, request: HttpRequest) -> bool:
        ids = visible_datamart_ids(request.user)
        return (ids is None or bool(ids)) and super().has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Nothing in the console is deleted-and-forgotten: points are erased (with a record), keys revoked.
        return False

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # A form must not offer another tenant's datamart, compartment or processing.
        related = db_field.related_model
        if related is Datamart:
            kwargs["queryset"] = visible_datamarts(request.user)
        elif related in (Compartment, Processing):
            kwargs["queryset"] = restrict(related.objects.order_by("pk"), request.user, "datamart")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyTenantAdmin(TenantAdmin):
    """Records nobody edits in the console, superusers included: they change only through the services."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SuperuserOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Users and groups: only superusers manage them (an administrator granting itself a datamart would defeat
    the tenancy)."""

    def _superuser(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_superuser", False))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self._superuser(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self._superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self._superuser(request)
