"""Routes of the UserPoint API and the configuration reads (spec 1.4, 1.8)."""

from django.urls import re_path

from apps.datamarts.api import CompartmentList, DatamartDetail, ProcessingList
from apps.userpoints.api import UserPointDetail, UserPointIdentifiers

# A selector may itself contain a slash: `compartment_id=C/user_account_id=U`.
SELECTOR = r"(?P<selector>compartment_id=[^/,]+[,/]user_account_id=[^/]+|[^/]+)"
DATAMART = r"^v1/datamarts/(?P<datamart_id>\d+)"

urlpatterns = [
    re_path(rf"{DATAMART}$", DatamartDetail.as_view()),
    re_path(rf"{DATAMART}/compartments$", CompartmentList.as_view()),
    re_path(rf"{DATAMART}/processings$", ProcessingList.as_view()),
    re_path(rf"{DATAMART}/user_points/{SELECTOR}$", UserPointDetail.as_view()),
    re_path(rf"{DATAMART}/user_points/{SELECTOR}/user_identifiers$", UserPointIdentifiers.as_view()),
]
