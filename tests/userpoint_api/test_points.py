"""Selectors, the timeline, export, identifier deletion, scopes and the schema (spec 0, 1.4, 1.7)."""

from __future__ import annotations

import json

import pytest

from apps.userpoints.export import user_point_export
from apps.userpoints.models import UserIdentifier, UserPoint
from tests.factories import ProcessingFactory, datamart_setup
from tests.userpoint_api.helpers import assert_mics_error, base, point_of, post_activity

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(api, drain, setup):
    """A point with an agent, an e-mail, an account, a profile, a choice and three activities."""
    processing = ProcessingFactory(datamart=setup.datamart)
    compartment = setup.default_compartment.pk
    post_activity(
        api,
        setup,
        {
            "$ts": 1000,
            "$type": "SITE_VISIT",
            "$channel_id": 12,
            "$user_identifiers": [
                {"$type": "USER_AGENT", "$user_agent_id": "vec:a/b c"},
                {"$type": "USER_EMAIL", "$hash": "h123"},
                {"$type": "USER_ACCOUNT", "$compartment_id": str(compartment), "$user_account_id": "acc,1"},
            ],
            "$events": [
                {
                    "$ts": 1000,
                    "$event_name": "$set_user_choice",
                    "$properties": {"$processing_id": str(processing.pk), "$choice_acceptance_value": True},
                },
                {
                    "$ts": 1000,
                    "$event_name": "$set_user_profile_properties",
                    "$properties": {"$user_account_id": "acc,1", "city": "Paris"},
                },
            ],
        },
    )
    post_activity(api, setup, {"$ts": 2000, "$type": "APP_VISIT", "$channel_id": "12", "$user_agent_id": "vec:a/b c"})
    post_activity(api, setup, {"$ts": 3000, "$type": "SITE_VISIT", "$channel_id": 13, "$user_agent_id": "vec:a/b c"})
    drain()
    return point_of("vec:a/b c")


def test_every_selector_form(api, setup, person):
    c = setup.default_compartment.pk
    for selector in (
        str(person),
        f"user_point_id={person}",
        "email_hash=h123",
        f"compartment_id={c},user_account_id=acc%2C1",
        f"compartment_id={c}/user_account_id=acc%2C1",
        "user_account_id=acc%2C1",
    ):
        status, answer = api("get", f"{base(setup)}/user_points/{selector}", key=setup.key)
        assert status == 200, (selector, answer)
        assert answer["data"]["user_point_id"] == str(person)


def test_a_percent_in_a_value_is_decoded_once(api, drain, setup):
    post_activity(api, setup, {"$ts": 1, "$type": "SITE_VISIT", "$user_agent_id": "vec:100%41"})
    drain()
    status, answer = api("get", f"{base(setup)}/user_points/user_agent_id=vec%3A100%2541", key=setup.key)
    assert status == 200, answer
    assert answer["data"]["user_point_id"] == str(point_of("vec:100%41"))


@pytest.mark.parametrize(
    "selector",
    ["user_agent_id=vec:none", "email_hash=nothing", "user_account_id=nobody", "00000000-0000-4000-8000-000000000000"],
)
def test_nothing_selected_is_404(api, setup, person, selector):
    for method in ("get", "delete"):
        status, answer = api(method, f"{base(setup)}/user_points/{selector}", key=setup.key)
        assert_mics_error(status, answer, 404, "RESOURCE_NOT_FOUND")


@pytest.mark.parametrize("selector", ["not-a-uuid", "colour=blue", "user_point_id=12", "compartment_id=1"])
def test_bad_selectors_are_400(api, setup, selector):
    status, answer = api("get", f"{base(setup)}/user_points/{selector}/user_profiles", key=setup.key)
    assert_mics_error(status, answer, 400, "VALIDATION_ERROR")


def test_timeline_order_paging_bounds_and_filters(api, setup, person):
    url = f"{base(setup)}/user_points/{person}/user_activities"
    status, answer = api("get", url, key=setup.key)
    assert status == 200
    assert [a["$ts"] for a in answer["data"]] == [3000, 2000, 1000]
    assert (answer["count"], answer["total"]) == (3, 3)
    status, answer = api("get", f"{url}?first_result=1&max_results=1", key=setup.key)
    assert [a["$ts"] for a in answer["data"]] == [2000]
    assert (answer["count"], answer["total"], answer["first_result"], answer["max_results"]) == (1, 3, 1, 1)
    status, answer = api("get", f"{url}?start_ts=2000&end_ts=3000", key=setup.key)
    assert [a["$ts"] for a in answer["data"]] == [2000]
    status, answer = api("get", f"{url}?filters=$type==SITE_VISIT,$channel_id==12", key=setup.key)
    assert [a["$ts"] for a in answer["data"]] == [1000]
    status, answer = api("get", f"{url}?filters=$channel_id==12", key=setup.key)  # 12 and "12" alike
    assert [a["$ts"] for a in answer["data"]] == [2000, 1000]
    status, answer = api("get", f"{url}?filters=$type==APP_VISIT%7C$channel_id==13", key=setup.key)
    assert [a["$ts"] for a in answer["data"]] == [3000, 2000]
    assert answer["total"] == 2
    status, answer = api("get", f"{url}?filters=$type!=SITE_VISIT", key=setup.key)
    assert [a["$ts"] for a in answer["data"]] == [2000]
    for bad in ("filters=$type", "filters=$type==A,,", "start_ts=soon", "max_results=5000"):
        status, answer = api("get", f"{url}?{bad}", key=setup.key)
        assert_mics_error(status, answer, 400)


def test_export_round_trip(api, setup, person):
    status, answer = api("get", f"{base(setup)}/user_points/email_hash=h123/export", key=setup.key)
    assert status == 200
    document = answer["data"]
    exported = json.loads(json.dumps(user_point_export(datamart_id=setup.datamart.pk, user_point_id=person)))
    assert {**document, "exported_ts": None} == {**exported, "exported_ts": None}
    assert document["user_point"]["user_point_id"] == str(person)
    kinds = sorted(i["type"] for i in document["identifiers"])
    assert kinds == ["USER_ACCOUNT", "USER_AGENT", "USER_EMAIL", "USER_POINT"]
    assert [p["city"] for p in document["profiles"]] == ["Paris"]
    assert [c["$choice_acceptance_value"] for c in document["choices"]] == [True]
    assert len(document["change_log"]) == 1
    assert [a["$ts"] for a in document["activities"]] == [1000, 2000, 3000]
    # What the export says is what the reads say.
    status, identifiers = api("get", f"{base(setup)}/user_points/{person}/user_identifiers", key=setup.key)
    assert identifiers["data"] == document["identifiers"]


def test_identifier_deletion(api, setup, person):
    status, answer = api("delete", f"{base(setup)}/user_identifiers/email_hash=h123", key=setup.key)
    assert status == 200, answer
    assert answer["data"] == {"type": "USER_EMAIL", "user_point_id": str(person), "hash": "h123"}
    assert not UserIdentifier.objects.filter(key="h123").exists()
    assert UserPoint.objects.filter(id=person).exists()
    status, answer = api("delete", f"{base(setup)}/user_identifiers/email_hash=h123", key=setup.key)
    assert_mics_error(status, answer, 404)
    status, answer = api("delete", f"{base(setup)}/user_identifiers/{person}", key=setup.key)
    assert_mics_error(status, answer, 400)


def test_a_read_only_key_is_refused_on_put_and_delete(api, setup, person):
    from apps.datamarts.services import api_key_create

    read_only = api_key_create(datamart=setup.datamart, name="reader", scopes=["read"]).raw_key
    point = f"{base(setup)}/user_points/{person}"
    c = setup.default_compartment.pk
    processing = ProcessingFactory(datamart=setup.datamart).pk
    for method, url, body in (
        ("put", f"{point}/user_profiles/compartment_id={c}/user_account_id=x", {"a": 1}),
        ("put", f"{point}/user_choices/processing_id={processing}", {"$choice_ts": 1, "$choice_acceptance_value": 1}),
        ("delete", point, None),
        ("delete", f"{base(setup)}/user_identifiers/email_hash=h123", None),
    ):
        status, answer = api(method, url, body, key=read_only)
        assert_mics_error(status, answer, 403, "FORBIDDEN")
    assert api("get", f"{point}/export", key=read_only)[0] == 200
    assert UserIdentifier.objects.filter(key="h123").exists()
    write_only = api_key_create(datamart=setup.datamart, name="writer", scopes=["write"]).raw_key
    status, answer = api("get", point, key=write_only)
    assert_mics_error(status, answer, 403, "FORBIDDEN")
    other = datamart_setup()
    status, answer = api("get", point, key=other.key)
    assert_mics_error(status, answer, 403, "FORBIDDEN")
    status, answer = api("get", f"{base(other)}/user_points/{person}", key=other.key)
    assert_mics_error(status, answer, 404)


def test_the_schema_and_the_docs(client):
    response = client.get("/v1/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    prefix = "/v1/datamarts/{datamart_id}"
    for path, method in (
        (f"{prefix}/user_activities", "post"),
        (f"{prefix}/user_points/{{selector}}", "delete"),
        (f"{prefix}/user_points/{{selector}}/export", "get"),
        (f"{prefix}/user_points/{{selector}}/user_activities", "get"),
        (f"{prefix}/user_points/{{selector}}/user_choices/processing_id={{processing_id}}", "put"),
        (f"{prefix}/user_points/{{selector}}/user_choices/processing_id={{processing_id}}/change_log", "get"),
        (
            f"{prefix}/user_points/{{selector}}/user_profiles/compartment_id={{compartment_id}}/user_account_id={{user_account_id}}",
            "put",
        ),
        (f"{prefix}/user_identifiers/{{selector}}", "delete"),
        (f"{prefix}/compartments", "get"),
    ):
        assert method in paths[path], path
    assert set(schema["components"]["schemas"]["MicsError"]["properties"]) >= {"status", "error", "error_code"}
    selector = next(
        p for p in paths[f"{prefix}/user_points/{{selector}}"]["get"]["parameters"] if p["name"] == "selector"
    )
    assert "compartment_id=<C>,user_account_id=<U>" in selector["description"]
    docs = client.get("/v1/docs")
    assert docs.status_code == 200
    # Self-hosted assets: the page works without the internet.
    assert b"drf_spectacular_sidecar" in docs.content
    assert b"cdn.jsdelivr" not in docs.content
