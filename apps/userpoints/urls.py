"""Routes of the UserPoint API and the configuration reads (spec 1.4, 1.7, 1.8)."""

from django.urls import re_path

from apps.choices.api import ChoiceChangeLog, ChoiceDetail, ChoiceList
from apps.datamarts.api import CompartmentList, DatamartDetail, ProcessingList
from apps.profiles.api import ProfileCompartmentList, ProfileDetail, ProfileList
from apps.userpoints.api import (
    UserIdentifierDelete,
    UserPointActivities,
    UserPointDetail,
    UserPointExport,
    UserPointIdentifiers,
)

# A selector may itself contain a slash: `compartment_id=C/user_account_id=U`.
SELECTOR = r"(?P<selector>compartment_id=[^/,]+[,/]user_account_id=[^/]+|[^/]+)"
# ASCII digits: `\d` would also match `٢`, which int() reads as 2 (spec 7).
DATAMART = r"^v1/datamarts/(?P<datamart_id>[0-9]{1,18})"
POINT = rf"{DATAMART}/user_points/{SELECTOR}"
COMPARTMENT = r"compartment_id=(?P<compartment_id>[^/]+)"
ACCOUNT = r"user_account_id=(?P<user_account_id>[^/]+)"
PROCESSING = r"processing_id=(?P<processing_id>[^/]+)"

urlpatterns = [
    re_path(rf"{DATAMART}$", DatamartDetail.as_view()),
    re_path(rf"{DATAMART}/compartments$", CompartmentList.as_view()),
    re_path(rf"{DATAMART}/processings$", ProcessingList.as_view()),
    re_path(rf"{POINT}$", UserPointDetail.as_view()),
    re_path(rf"{POINT}/user_identifiers$", UserPointIdentifiers.as_view()),
    re_path(rf"{POINT}/user_activities$", UserPointActivities.as_view()),
    re_path(rf"{POINT}/export$", UserPointExport.as_view()),
    re_path(rf"{POINT}/user_profiles$", ProfileList.as_view()),
    re_path(rf"{POINT}/user_profiles/{COMPARTMENT}$", ProfileCompartmentList.as_view()),
    re_path(rf"{POINT}/user_profiles/{COMPARTMENT}/{ACCOUNT}$", ProfileDetail.as_view()),
    re_path(rf"{POINT}/user_choices$", ChoiceList.as_view()),
    re_path(rf"{POINT}/user_choices/{PROCESSING}$", ChoiceDetail.as_view()),
    re_path(rf"{POINT}/user_choices/{PROCESSING}/change_log$", ChoiceChangeLog.as_view()),
    re_path(rf"{DATAMART}/user_identifiers/{SELECTOR}$", UserIdentifierDelete.as_view()),
]
