"""The console's admin site: the dashboard as its home page, the consent report, and a start-up check that
every registered ModelAdmin applies the tenancy."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, SuspiciousOperation
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path
from django.utils.safestring import mark_safe
from django.views.defaults import bad_request, page_not_found, permission_denied

from apps.choices.models import Choice
from apps.choices.selectors import choice_counts_by_processing
from apps.console.charts import bar_chart, legend, line_chart
from apps.console.consent_export import consent_csv_lines
from apps.console.dashboard import datamart_figures
from apps.console.models import AccessEvent
from apps.console.services import access_log_record
from apps.console.tenancy import SuperuserOnlyAdmin, TenantAdmin, request_viewer, restrict, visible_datamarts
from apps.datamarts.models import Processing

# A superuser on an installation with very many datamarts gets the first ones; the lists have the rest.
DASHBOARD_MAX_DATAMARTS = 20
APP_ORDER = ["userpoints", "profiles", "activities", "choices", "console", "datamarts", "auth", "axes"]


class ConsoleSite(admin.AdminSite):
    site_header = "Tracking console"
    site_title = "Tracking console"
    index_title = "Dashboard"
    index_template = "admin/console_index.html"
    # The lists need the screen's width (the activity list has seven columns and its filters); the dashboard and
    # the breadcrumbs lead everywhere the sidebar did.
    enable_nav_sidebar = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Bulk deletion would bypass erasure records and the append-only change log.
        self.disable_action("delete_selected")

    def admin_view(self, view: Callable[..., Any], cacheable: bool = False) -> Any:
        """Answers 403 and 404 here, as pages: apps.core's DialectErrorMiddleware turns any exception that reaches
        it into a 500, and the admin signals "forbidden" and "not found" by raising."""
        wrapped = super().admin_view(view, cacheable)

        @functools.wraps(wrapped)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                return wrapped(request, *args, **kwargs)
            except PermissionDenied as exc:
                return permission_denied(request, exc)
            except Http404 as exc:
                return page_not_found(request, exc)
            except SuspiciousOperation as exc:  # e.g. a filter lookup the page does not offer
                return bad_request(request, exc)

        return inner

    def get_urls(self) -> list[URLResolver | URLPattern]:
        for model, model_admin in self._registry.items():
            if not isinstance(model_admin, TenantAdmin | SuperuserOnlyAdmin):
                raise ImproperlyConfigured(
                    f"{type(model_admin).__name__} for {model.__name__} must derive from TenantAdmin "
                    "(or SuperuserOnlyAdmin): every console page filters by the user's datamarts"
                )
        extra = [
            path("console/consent/", self.admin_view(self.consent_report), name="console_consent_report"),
            path(
                "console/consent/<int:processing_id>.csv",
                self.admin_view(self.consent_csv),
                name="console_consent_csv",
            ),
        ]
        return extra + super().get_urls()

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        context["can_view_consent_report"] = request.user.has_perm("console.view_consent_report")
        context["can_view_access_log"] = request.user.has_perm("console.view_accesslogentry")
        return context

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[Any]:
        """The console's sections in the order its users need them: people first, configuration last."""
        apps = super().get_app_list(request, app_label)
        return sorted(
            apps, key=lambda app: (APP_ORDER.index(app["app_label"]) if app["app_label"] in APP_ORDER else 99)
        )

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        datamarts = list(visible_datamarts(request.user)[: DASHBOARD_MAX_DATAMARTS + 1])
        boards = []
        for datamart in datamarts[:DASHBOARD_MAX_DATAMARTS]:
            figures = datamart_figures(datamart)
            labels = [d.isoformat() for d in figures.days]
            boards.append(
                {
                    "datamart": datamart,
                    "figures": figures,
                    "activities_chart": mark_safe(  # noqa: S308 -- charts.py escapes every label
                        bar_chart(
                            list(zip(labels, figures.activities_per_day, strict=True)), title="Activities per day"
                        )
                    ),
                    "points_chart": mark_safe(  # noqa: S308
                        bar_chart(
                            list(zip(labels, figures.new_points_per_day, strict=True)), title="New user points per day"
                        )
                    ),
                    "acceptance_chart": mark_safe(  # noqa: S308
                        line_chart(
                            {
                                name: list(zip(labels, values, strict=True))
                                for name, values in figures.acceptance_rate.items()
                            },
                            title="Acceptance rate per processing",
                        )
                    ),
                    "acceptance_legend": legend(list(figures.acceptance_rate)),
                    "activities_total": sum(figures.activities_per_day),
                    "points_total": sum(figures.new_points_per_day),
                }
            )
        context = {
            "boards": boards,
            "more_datamarts": len(datamarts) > DASHBOARD_MAX_DATAMARTS,
            "no_datamart": not datamarts,
            **(extra_context or {}),
        }
        return super().index(request, context)

    # --- the consent report (privacy officers) -------------------------------------------------------------

    def _report_processings(self, request: HttpRequest) -> Any:
        if not request.user.has_perm("console.view_consent_report"):
            raise PermissionDenied
        return restrict(Processing.objects.select_related("datamart"), request.user, "datamart")

    def consent_report(self, request: HttpRequest) -> TemplateResponse:
        processings = self._report_processings(request)
        counts = choice_counts_by_processing(Choice.objects.filter(processing__in=processings))
        # And by the source of the write that set each choice (a consent signal's dialect, the API, the console...).
        by_source: dict[int, list[dict[str, Any]]] = {}
        for row in (
            Choice.objects.filter(processing__in=processings)
            .values("processing_id", "source")
            .annotate(
                accepted=Count("id", filter=Q(acceptance_value=True)),
                refused=Count("id", filter=Q(acceptance_value=False)),
            )
            .order_by("processing_id", "source")
        ):
            by_source.setdefault(row["processing_id"], []).append(row)
        rows = [
            {
                "processing": p,
                "accepted": counts.get(p.pk, {}).get("accepted", 0),
                "refused": counts.get(p.pk, {}).get("refused", 0),
                "by_source": by_source.get(p.pk, []),
            }
            for p in processings.order_by("datamart_id", "pk")
        ]
        context = {**self.each_context(request), "title": "Consent by processing", "rows": rows}
        return TemplateResponse(request, "console/consent_report.html", context)

    def consent_csv(self, request: HttpRequest, processing_id: int) -> StreamingHttpResponse:
        processing = self._report_processings(request).filter(pk=processing_id).first()
        if processing is None:
            raise Http404("No such processing in your datamarts")
        # Personal data leaves the console: the access log says who took it (spec 8).
        access_log_record(
            request=request,
            event=AccessEvent.EXPORT,
            datamart_ids=[processing.datamart_id],
            query=f"consent CSV of processing {processing.pk} ({processing.name})",
        )
        lines = consent_csv_lines(processing, request_viewer(request))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="choices-processing-{processing.pk}.csv"'
        return response
