"""Choices and the consent change log through the HTTP routes (spec 1.4, 1.6)."""

from __future__ import annotations

import pytest

from apps.userpoints.models import UserIdentifier
from tests.factories import ProcessingFactory, datamart_setup
from tests.userpoint_api.helpers import assert_mics_error, base

pytestmark = pytest.mark.django_db


@pytest.fixture
def processing(setup):
    return ProcessingFactory(datamart=setup.datamart)


def _url(setup, processing_id, selector="user_agent_id=vec:c") -> str:
    return f"{base(setup)}/user_points/{selector}/user_choices/processing_id={processing_id}"


def test_put_creates_the_point_and_answers_the_choice(api, setup, processing):
    status, answer = api(
        "put",
        _url(setup, processing.pk),
        {"$choice_ts": 1000, "$choice_acceptance_value": True, "channel": "banner"},
        key=setup.key,
    )
    assert status == 200, answer
    data = answer["data"]
    assert data["$processing_id"] == str(processing.pk)
    assert data["$choice_ts"] == 1000
    assert data["$choice_acceptance_value"] is True
    assert data["channel"] == "banner"
    assert data["$creation_ts"] <= data["$last_modified_ts"]
    assert UserIdentifier.objects.filter(key="vec:c").exists()


def test_iso_timestamps_and_consent_decided_by_choice_ts(api, setup, processing):
    url = _url(setup, processing.pk)
    assert (
        api("put", url, {"$choice_ts": "2024-01-02T00:00:00Z", "$choice_acceptance_value": True}, key=setup.key)[0]
        == 200
    )
    # Older than the stored one: logged, not applied.
    status, answer = api(
        "put", url, {"$choice_ts": "2024-01-01T00:00:00+00:00", "$choice_acceptance_value": False}, key=setup.key
    )
    assert status == 200
    assert answer["data"]["$choice_acceptance_value"] is True
    assert answer["data"]["$choice_ts"] == 1704153600000
    status, log = api("get", f"{url}/change_log", key=setup.key)
    assert status == 200
    assert [e["applied"] for e in log["data"]] == [True, False]
    first, second = log["data"]
    assert first["previous_acceptance_value"] is None
    assert second["previous_acceptance_value"] is True
    assert second["$choice_ts"] == 1704067200000
    assert second["source"] == "API"
    assert second["source_ref"] == "test key"
    assert set(first) == {
        "change_id",
        "user_point_id",
        "processing_id",
        "$choice_ts",
        "$choice_acceptance_value",
        "previous_acceptance_value",
        "applied",
        "source",
        "source_ref",
        "custom_fields",
        "recorded_ts",
    }
    assert int(first["change_id"]) < int(second["change_id"])


def test_get_list_with_and_without_the_processing(api, setup, processing):
    other = ProcessingFactory(datamart=setup.datamart)
    for processing_id in (processing.pk, other.pk):
        api("put", _url(setup, processing_id), {"$choice_ts": 1, "$choice_acceptance_value": True}, key=setup.key)
    status, listed = api("get", f"{base(setup)}/user_points/user_agent_id=vec:c/user_choices", key=setup.key)
    assert status == 200
    assert sorted(c["$processing_id"] for c in listed["data"]) == sorted([str(processing.pk), str(other.pk)])
    assert listed["total"] == 2
    status, listed = api("get", _url(setup, other.pk), key=setup.key)
    assert [c["$processing_id"] for c in listed["data"]] == [str(other.pk)]


def test_the_pipeline_and_the_api_share_one_log(api, drain, setup, processing):
    api("put", _url(setup, processing.pk), {"$choice_ts": 5000, "$choice_acceptance_value": True}, key=setup.key)
    status, _ = api(
        "post",
        f"{base(setup)}/user_activities",
        {
            "$ts": 4000,
            "$type": "SITE_VISIT",
            "$user_agent_id": "vec:c",
            "$events": [
                {
                    "$ts": 4000,
                    "$event_name": "$set_user_choice",
                    "$properties": {"$processing_id": str(processing.pk), "$choice_acceptance_value": False},
                }
            ],
        },
        key=setup.key,
    )
    assert status == 200
    drain()
    status, log = api("get", f"{_url(setup, processing.pk)}/change_log", key=setup.key)
    assert [(e["source"], e["applied"]) for e in log["data"]] == [("API", True), ("ACTIVITY", False)]
    status, choice = api("get", _url(setup, processing.pk), key=setup.key)
    assert choice["data"][0]["$choice_acceptance_value"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"$choice_acceptance_value": True}, "$choice_ts"),
        ({"$choice_ts": "yesterday", "$choice_acceptance_value": True}, "$choice_ts"),
        ({"$choice_ts": True, "$choice_acceptance_value": True}, "$choice_ts"),
        ({"$choice_ts": 1}, "$choice_acceptance_value"),
        ({"$choice_ts": 1, "$choice_acceptance_value": "yes"}, "$choice_acceptance_value"),
    ],
)
def test_bad_choice_bodies_are_400(api, setup, processing, body, field):
    status, answer = api("put", _url(setup, processing.pk), body, key=setup.key)
    assert_mics_error(status, answer, 400, "VALIDATION_ERROR")
    assert field in [d["field"] for d in answer["details"]]
    assert not UserIdentifier.objects.filter(key="vec:c").exists()


def test_a_processing_of_another_datamart_or_unknown(api, setup):
    foreign = ProcessingFactory(datamart=datamart_setup().datamart)
    body = {"$choice_ts": 1, "$choice_acceptance_value": True}
    for processing_id in (foreign.pk, 999999, "abc"):
        status, answer = api("put", _url(setup, processing_id), body, key=setup.key)
        assert_mics_error(status, answer, 400, "VALIDATION_ERROR")
        assert answer["details"][0]["field"] == "processing_id"
    api("put", _url(setup, ProcessingFactory(datamart=setup.datamart).pk), body, key=setup.key)
    status, answer = api("get", f"{_url(setup, foreign.pk)}/change_log", key=setup.key)
    assert_mics_error(status, answer, 404, "RESOURCE_NOT_FOUND")


def test_put_on_a_point_id_that_does_not_exist_is_404(api, setup, processing):
    url = _url(setup, processing.pk, selector="00000000-0000-4000-8000-000000000000")
    status, answer = api("put", url, {"$choice_ts": 1, "$choice_acceptance_value": True}, key=setup.key)
    assert_mics_error(status, answer, 404, "RESOURCE_NOT_FOUND")
