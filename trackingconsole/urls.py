from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from apps.activities.views import user_activities_post
from apps.core.views import healthz

urlpatterns = [
    path("healthz", healthz),
    path("admin/", admin.site.urls),
    re_path(r"^v1/datamarts/(?P<datamart_id>\d+)/user_activities$", user_activities_post),
    path("", include("apps.userpoints.urls")),
    path("", include("apps.dialects.segment.urls")),
    path("", include("apps.dialects.braze.urls")),
    path("", include("apps.dialects.thrivestack.urls")),
    path("", include("apps.console.urls")),
]

if settings.BENCH_ENDPOINTS:
    # The bare JSON route bench/ingest compares the ingestion route with; absent unless BENCH_ENDPOINTS=1.
    urlpatterns.append(path("", include("apps.core.bench_views")))
