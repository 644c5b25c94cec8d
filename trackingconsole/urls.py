from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import apps.activities.openapi  # noqa: F401  (documents the plain-view activity route in /v1/schema)
from apps.activities.views import user_activities_post
from apps.core.views import healthz

urlpatterns = [
    # The console is what a person opening the server's address is looking for (and the admin's "View site").
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", healthz),
    path("v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("admin/", admin.site.urls),
    re_path(r"^v1/datamarts/(?P<datamart_id>[0-9]{1,18})/user_activities$", user_activities_post),
    path("", include("apps.userpoints.urls")),
    path("", include("apps.dialects.segment.urls")),
    path("", include("apps.dialects.braze.urls")),
    path("", include("apps.dialects.thrivestack.urls")),
    path("", include("apps.console.urls")),
]

if settings.BENCH_ENDPOINTS:
    # The bare JSON route bench/ingest compares the ingestion route with; absent unless BENCH_ENDPOINTS=1.
    urlpatterns.append(path("", include("apps.core.bench_views")))
