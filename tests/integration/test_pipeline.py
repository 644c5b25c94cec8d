"""The pipeline, run in-process on the real database: identity resolution, merges, the hyper-point guard,
profiles and choices from activities, idempotency and failures (spec 1.3, 1.6)."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.activities.models import Activity, InboxPayload, InboxStatus, ProcessingError
from apps.activities.pipeline import inbox_drain_batch, payload_process_one
from apps.choices.models import Choice, ChoiceChangeLogEntry
from apps.profiles.models import Profile
from apps.userpoints.models import HyperPointRefusal, UserIdentifier, UserPoint, UserPointMerge
from tests.factories import ProcessingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(setup, api):
    def send(body: dict) -> str:
        status, answer = api("post", f"/v1/datamarts/{setup.datamart.pk}/user_activities", body, key=setup.key)
        assert status == 200, answer
        return answer["data"]["activity_id"]

    return send


@pytest.fixture
def point(setup, api):
    """GET a user point through the API: (status, data)."""

    def get(selector: str, suffix: str = ""):
        status, body = api("get", f"/v1/datamarts/{setup.datamart.pk}/user_points/{selector}{suffix}", key=setup.key)
        return status, body.get("data") if isinstance(body, dict) else body

    return get


def agent(value: str) -> dict:
    return {"$type": "USER_AGENT", "$user_agent_id": value}


def account(compartment, value: str) -> dict:
    return {"$type": "USER_ACCOUNT", "$compartment_id": str(compartment), "$user_account_id": value}


def activity(ts: int, *identifiers: dict, events: list | None = None) -> dict:
    body = {"$ts": ts, "$type": "SITE_VISIT", "$user_identifiers": list(identifiers)}
    if events is not None:
        body["$events"] = events
    return body


def test_seed_examples_resolve_as_the_spec_says(setup, post, drain, point):
    c = setup.default_compartment.pk
    post(
        {
            "$ts": 3489009384393,
            "$type": "APP_VISIT",
            "$session_status": "IN_SESSION",
            "$user_identifiers": [
                account(c, "ACCOUNT-1"),
                account(c, "ACCOUNT-2"),
                agent("vec:123"),
                {"$type": "USER_EMAIL", "$hash": "HASH-1", "$email": "someone@example.com"},
            ],
            "$app_id": "1023",
            "$events": [{"$ts": 3489009384393, "$event_name": "$app_open", "$properties": {}}],
        }
    )
    post(
        {
            "$ts": 3489009384394,
            "$type": "APP_VISIT",
            "$session_status": "IN_SESSION",
            "$user_agent_id": "vec:123",
            "$compartment_id": str(c),
            "$user_account_id": "ACCOUNT-1",
            "$app_id": "1023",
            "$events": [{"$ts": 3489009384394, "$event_name": "$app_open", "$properties": {}}],
        }
    )
    assert drain() == 2
    status, found = point(f"compartment_id={c},user_account_id=ACCOUNT-2")
    assert status == 200
    for selector in ("user_agent_id=vec:123", "email_hash=HASH-1", "user_account_id=ACCOUNT-1", found["user_point_id"]):
        assert point(selector)[1]["user_point_id"] == found["user_point_id"], selector
    _, identifiers = point("user_agent_id=vec:123", "/user_identifiers")
    assert sorted(i["type"] for i in identifiers) == [
        "USER_ACCOUNT",
        "USER_ACCOUNT",
        "USER_AGENT",
        "USER_EMAIL",
        "USER_POINT",
    ]
    email = next(i for i in identifiers if i["type"] == "USER_EMAIL")
    assert (email["hash"], email["email"]) == ("HASH-1", "someone@example.com")
    assert Activity.objects.filter(user_point_id=found["user_point_id"]).count() == 2
    assert UserPoint.objects.count() == 1


def test_merge_folds_the_younger_point_into_the_older_and_keeps_resolving(setup, post, drain, point):
    c = setup.default_compartment.pk
    post(activity(1, agent("A")))
    drain()
    post(activity(2, account(c, "bob")))
    drain()
    older = point("user_agent_id=A")[1]["user_point_id"]
    younger = point("user_account_id=bob")[1]["user_point_id"]
    trigger = post(activity(3, account(c, "bob"), agent("A")))
    drain()
    assert point("user_account_id=bob")[1]["user_point_id"] == older
    status, merged = point(younger)
    assert status == 200
    assert merged["user_point_id"] == older
    assert merged["merged_user_point_ids"] == [younger]
    record = UserPointMerge.objects.get()
    assert (str(record.survivor_id), str(record.merged_user_point_id), record.trigger_ref) == (older, younger, trigger)
    assert Activity.objects.filter(user_point_id=older).count() == 3
    assert UserPoint.objects.count() == 1


def test_merged_ids_of_merged_points_follow_a_chain_of_merges(setup, post, drain, point):
    post(activity(1, agent("A")))
    drain()
    post(activity(2, agent("B")))
    drain()
    post(activity(3, agent("C")))
    drain()
    ids = {x: point(f"user_agent_id={x}")[1]["user_point_id"] for x in "ABC"}
    post(activity(4, agent("B"), agent("C")))
    drain()
    post(activity(5, agent("A"), agent("B")))
    drain()
    for original in ids.values():
        assert point(original)[1]["user_point_id"] == ids["A"]
    assert set(point(ids["A"])[1]["merged_user_point_ids"]) == {ids["B"], ids["C"]}


def test_within_one_batch_payloads_sharing_an_identifier_make_one_point(setup, post, drain):
    post(activity(1, agent("X"), agent("Y")))
    post(activity(2, agent("Y"), agent("Z")))
    post(activity(3, agent("Q")))
    assert drain() == 3
    assert UserPoint.objects.count() == 2
    assert UserIdentifier.objects.values("user_point_id").distinct().count() == 2
    assert UserIdentifier.objects.get(key="X").user_point_id == UserIdentifier.objects.get(key="Z").user_point_id


def test_hyper_point_guard_refuses_a_fifth_account_in_a_compartment(setup, post, drain, point):
    c = setup.default_compartment.pk
    post(activity(1, agent("shared-device"), *[account(c, f"u{i}") for i in range(4)]))
    drain()
    owner = point("user_agent_id=shared-device")[1]["user_point_id"]
    post(activity(2, agent("shared-device"), account(c, "u5")))
    drain()
    _, data = point("user_agent_id=shared-device")
    assert data["flags"] == ["HYPER"]
    assert point("user_account_id=u5")[0] == 404  # the link was not carried out
    refusal = HyperPointRefusal.objects.get()
    assert str(refusal.user_point_id) == owner
    assert refusal.refused_identifiers == [{"type": "USER_ACCOUNT", "compartment_id": c, "user_account_id": "u5"}]
    assert Activity.objects.filter(user_point_id=owner).count() == 2  # stored on the first identifier's point


def test_hyper_point_guard_refuses_a_merge_over_100_identifiers(setup, post, drain, point, settings):
    settings.HYPER_POINT_MAX_IDENTIFIERS = 5
    post(activity(1, *[agent(f"a{i}") for i in range(3)]))
    post(activity(2, *[agent(f"b{i}") for i in range(3)]))
    drain()
    post(activity(3, agent("b0"), agent("a0")))
    drain()
    assert UserPoint.objects.count() == 2
    b_point = point("user_agent_id=b0")[1]
    assert b_point["flags"] == ["HYPER"]
    assert HyperPointRefusal.objects.get().other_user_point_ids == [point("user_agent_id=a0")[1]["user_point_id"]]


def test_profile_event_updates_the_profile_and_attaches_the_account(setup, post, drain, point):
    c = setup.default_compartment.pk
    post(activity(1, account(c, "acc")))
    post(activity(2, agent("vec:7")))
    drain()
    events = [
        {
            "$ts": 1679588413000,
            "$event_name": "$set_user_profile_properties",
            "$properties": {"$compartment_id": str(c), "$user_account_id": "acc", "gender": "Male", "zipcode": "78000"},
        }
    ]
    post(activity(3, agent("vec:7"), events=events))
    drain()
    # The account named by the profile event joined vec:7's point: they merged.
    assert point("user_agent_id=vec:7")[1]["user_point_id"] == point("user_account_id=acc")[1]["user_point_id"]
    profile = Profile.objects.get()
    assert profile.properties == {"gender": "Male", "zipcode": "78000"}
    post(
        activity(
            4,
            agent("vec:7"),
            events=[
                {
                    "$ts": 5,
                    "$event_name": "$set_user_profile_properties",
                    "$properties": {"$user_account_id": "acc", "zipcode": "75001"},
                }
            ],
        )
    )
    drain()
    profile.refresh_from_db()
    assert profile.properties == {"gender": "Male", "zipcode": "75001"}  # PARTIAL_UPDATE


def choice_event(ts: int, processing_id, value, **custom) -> dict:
    props = {"$processing_id": str(processing_id), "$choice_acceptance_value": value, **custom}
    return {"$ts": ts, "$event_name": "$set_user_choice", "$properties": props}


def test_choice_events_are_decided_by_choice_ts_and_logged(setup, post, drain):
    processing = ProcessingFactory(datamart=setup.datamart)
    post(activity(1, agent("u"), events=[choice_event(2000, processing.pk, True, channel="banner")]))
    drain()
    post(activity(2, agent("u"), events=[choice_event(1000, processing.pk, False)]))  # older: logged, not applied
    drain()
    post(activity(3, agent("u"), events=[choice_event(3000, processing.pk, False)]))
    drain()
    choice = Choice.objects.get()
    assert (choice.choice_ts, choice.acceptance_value) == (3000, False)
    log = list(
        ChoiceChangeLogEntry.objects.order_by("id").values_list("choice_ts", "applied", "previous_acceptance_value")
    )
    assert log == [(2000, True, None), (1000, False, True), (3000, True, True)]
    assert ChoiceChangeLogEntry.objects.order_by("id")[0].custom_fields == {"channel": "banner"}
    assert set(ChoiceChangeLogEntry.objects.values_list("source", flat=True)) == {"ACTIVITY"}


def test_invalid_choice_events_are_recorded_and_the_rest_is_applied(setup, post, drain, point):
    processing = ProcessingFactory(datamart=setup.datamart)
    other = ProcessingFactory()  # another datamart's processing
    events = [
        choice_event(1, other.pk, True),
        {"$ts": 2, "$event_name": "$set_user_choice", "$properties": {"$processing_id": str(processing.pk)}},
        choice_event(3, processing.pk, True),
    ]
    payload_id = post(activity(1, agent("u"), events=events))
    drain()
    assert InboxPayload.objects.get(id=payload_id).status == InboxStatus.PROCESSED
    assert Choice.objects.get().processing_id == processing.pk
    messages = sorted(ProcessingError.objects.filter(payload_id=payload_id).values_list("message", flat=True))
    assert len(messages) == 2
    assert any("boolean $choice_acceptance_value" in m for m in messages)
    assert any(f"processing {other.pk} is not a processing of this datamart" in m for m in messages)
    assert point("user_agent_id=u")[0] == 200


def test_merge_keeps_the_later_choice_and_both_logs_then_a_merge_entry(setup, post, drain):
    processing = ProcessingFactory(datamart=setup.datamart)
    post(activity(1, agent("A"), events=[choice_event(5000, processing.pk, True)]))
    drain()
    post(activity(2, agent("B"), events=[choice_event(6000, processing.pk, False)]))
    drain()
    post(activity(3, agent("A"), agent("B")))
    drain()
    choice = Choice.objects.get()
    assert (choice.choice_ts, choice.acceptance_value) == (6000, False)
    log = list(ChoiceChangeLogEntry.objects.order_by("id").values_list("source", "choice_ts"))
    assert log == [("ACTIVITY", 5000), ("ACTIVITY", 6000), ("MERGE", 6000)]
    assert ChoiceChangeLogEntry.objects.values("user_point_id").distinct().count() == 1


def test_processing_a_payload_twice_changes_nothing_more(setup, post, drain):
    processing = ProcessingFactory(datamart=setup.datamart)
    payload_id = post(activity(1, agent("u"), events=[choice_event(1, processing.pk, True)]))
    drain()
    counts = (Activity.objects.count(), ChoiceChangeLogEntry.objects.count(), UserIdentifier.objects.count())
    payload_process_one(payload_id=payload_id)  # a retried or duplicated task
    assert drain() == 0
    assert (Activity.objects.count(), ChoiceChangeLogEntry.objects.count(), UserIdentifier.objects.count()) == counts


def test_a_failing_payload_is_kept_with_its_reason_and_retried(setup, drain, settings):
    settings.PIPELINE_MAX_ATTEMPTS = 2
    broken = InboxPayload.objects.create(
        datamart=setup.datamart,
        source="ACTIVITY",
        # A payload the pipeline cannot read (an account identifier without its account id).
        payload={"identifiers": [{"type": "USER_ACCOUNT", "compartment_id": setup.default_compartment.pk}]},
        received_at="2026-01-01T00:00:00Z",
    )
    drain()
    broken.refresh_from_db()
    assert broken.status == InboxStatus.PENDING
    assert broken.attempts == 1
    assert broken.next_attempt_at is not None
    assert "user_account_id" in broken.last_error
    InboxPayload.objects.filter(id=broken.id).update(next_attempt_at=None)
    drain()
    broken.refresh_from_db()
    assert broken.status == InboxStatus.FAILED
    assert broken.attempts == 2
    assert ProcessingError.objects.filter(payload=broken).count() == 2
    assert UserPoint.objects.count() == 0


def test_bulk_path_and_careful_path_agree(setup, post):
    """Three payloads in one batch: two simple ones take the bulk path, a merge takes the careful path."""
    post(activity(1, agent("A")))
    post(activity(2, agent("B")))
    assert inbox_drain_batch() == 2
    post(activity(3, agent("A"), agent("B")))
    post(activity(4, agent("C")))
    assert inbox_drain_batch() == 2
    assert UserPoint.objects.count() == 2
    assert InboxPayload.objects.filter(status=InboxStatus.PROCESSED).count() == 4
    assert Activity.objects.count() == 4


@pytest.mark.postgres
def test_change_log_is_append_only_in_the_database(setup, post, drain):
    from django.db import ProgrammingError, transaction

    processing = ProcessingFactory(datamart=setup.datamart)
    post(activity(1, agent("u"), events=[choice_event(1, processing.pk, True)]))
    drain()
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        ChoiceChangeLogEntry.objects.update(acceptance_value=False)
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        ChoiceChangeLogEntry.objects.all()._raw_delete(connection.alias)
    assert ChoiceChangeLogEntry.objects.get().acceptance_value is True
