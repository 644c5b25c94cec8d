"""Erasure (spec 1.7): after DELETE, no table holds anything that names the point, and the act is recorded."""

from __future__ import annotations

import uuid

import pytest
from django.apps import apps
from django.core import serializers

from apps.activities.models import InboxPayload, InboxStatus
from apps.choices.models import ChoiceChangeLogEntry
from apps.userpoints.erasure import user_point_erase
from apps.userpoints.identifiers import email_hash
from apps.userpoints.models import ErasureRecord, UserIdentifier, UserPoint, UserPointMerge
from tests.factories import ProcessingFactory, datamart_setup

pytestmark = pytest.mark.django_db


def _dump_without_erasure_records() -> str:
    """Every row of every table, serialized; the erasure records are the one thing allowed to keep the point id."""
    text = []
    for model in apps.get_models():
        if model is ErasureRecord:
            continue
        text.append(serializers.serialize("json", model._default_manager.all()))
    return "\n".join(text)


def _post(api, setup, body):
    status, answer = api("post", f"/v1/datamarts/{setup.datamart.pk}/user_activities", body, key=setup.key)
    assert status == 200, answer


def _personal_point(api, drain, setup, tag: str) -> tuple[uuid.UUID, uuid.UUID, dict[str, str]]:
    """A point with two merged halves, a profile, a choice and its log, activities, a processing error and a
    pending payload; returns the survivor, the merged id and the strings that identify the person."""
    processing = ProcessingFactory(datamart=setup.datamart)
    secrets = {
        "agent": f"vec:agent-{tag}",
        "agent2": f"vec:second-{tag}",
        "account": f"account-{tag}",
        "email": f"person-{tag}@example.org",
        "zipcode": f"zip-{tag}",
    }
    _post(api, setup, {"$ts": 1000, "$type": "SITE_VISIT", "$user_agent_id": secrets["agent"]})
    drain()
    _post(api, setup, {"$ts": 2000, "$type": "SITE_VISIT", "$user_agent_id": secrets["agent2"]})
    drain()
    older = UserIdentifier.objects.get(key=secrets["agent"]).user_point_id
    younger = UserIdentifier.objects.get(key=secrets["agent2"]).user_point_id
    _post(
        api,
        setup,
        {
            "$ts": 3000,
            "$type": "APP_VISIT",
            "$user_identifiers": [
                {"$type": "USER_AGENT", "$user_agent_id": secrets["agent"]},
                {"$type": "USER_AGENT", "$user_agent_id": secrets["agent2"]},
                {"$type": "USER_EMAIL", "$email": secrets["email"]},
            ],
            "$events": [
                {
                    "$ts": 3000,
                    "$event_name": "$set_user_profile_properties",
                    "$properties": {"$user_account_id": secrets["account"], "zipcode": secrets["zipcode"]},
                },
                {
                    "$ts": 3000,
                    "$event_name": "$set_user_choice",
                    "$properties": {"$processing_id": str(processing.pk), "$choice_acceptance_value": True},
                },
                # An invalid choice event: a processing error recorded on the point.
                {"$ts": 3000, "$event_name": "$set_user_choice", "$properties": {"$processing_id": "999999"}},
            ],
        },
    )
    drain()
    assert UserPointMerge.objects.filter(survivor_id=older, merged_user_point_id=younger).exists()
    # Accepted but not yet processed: found by the identifiers in its JSON.
    _post(api, setup, {"$ts": 4000, "$type": "SITE_VISIT", "$email_hash": {"$email": secrets["email"]}})
    assert InboxPayload.objects.filter(status=InboxStatus.PENDING).count() == 1
    secrets["email_hash"] = email_hash(secrets["email"])
    return older, younger, secrets


def test_erasure_leaves_no_row_naming_the_point(api, drain, setup):
    # A second person in the same datamart must survive the erasure untouched.
    _post(api, setup, {"$ts": 5000, "$type": "SITE_VISIT", "$user_agent_id": "vec:bystander"})
    drain()
    point_id, merged_id, secrets = _personal_point(api, drain, setup, "erased")
    before = _dump_without_erasure_records()
    for value in [*secrets.values(), str(point_id), str(merged_id)]:
        assert value in before, value  # the dump would find it: the search below can fail

    status, answer = api(
        "delete", f"/v1/datamarts/{setup.datamart.pk}/user_points/user_agent_id={secrets['agent']}", key=setup.key
    )

    assert status == 200, answer
    after = _dump_without_erasure_records()
    for value in [*secrets.values(), str(point_id), str(merged_id)]:
        assert value not in after, value
    assert "vec:bystander" in after
    record = ErasureRecord.objects.get()
    assert record.user_point_id == point_id
    assert record.actor == "api-key:test key"
    assert answer["data"]["counts"] == record.counts
    assert record.counts["activities"] == 3
    assert record.counts["identifiers"] == 4  # two agents, the e-mail and the profile's account
    assert record.counts["merges"] == 1
    assert record.counts["inbox_payloads"] == 4  # three processed, one still pending
    assert record.counts["processing_errors"] == 1
    assert record.counts["change_log_entries"] == 1  # the points merged before either had a choice
    record_text = serializers.serialize("json", ErasureRecord.objects.all())
    for value in secrets.values():
        assert value not in record_text
    # The point and its merged id no longer resolve.
    for selector in (str(point_id), str(merged_id), f"user_agent_id={secrets['agent2']}"):
        status, _ = api("get", f"/v1/datamarts/{setup.datamart.pk}/user_points/{selector}", key=setup.key)
        assert status == 404


@pytest.mark.postgres
def test_the_change_log_stays_undeletable_outside_erasure(setup, api, drain):
    """The trigger of choices/0002 still guards the log: only the erasure service lifts it, for its transaction."""
    from django.db import DatabaseError, transaction

    point_id, _, _ = _personal_point(api, drain, setup, "guarded")
    kept_id, _, _ = _personal_point(api, drain, datamart_setup(), "kept")
    with pytest.raises(DatabaseError), transaction.atomic():
        ChoiceChangeLogEntry.objects.filter(user_point_id=point_id)._raw_delete("default")
    # Inside an enclosing transaction (as here: the test's), the guard is back on once the erasure returns.
    user_point_erase(datamart_id=setup.datamart.pk, user_point_id=point_id, actor="console:alice")
    assert not ChoiceChangeLogEntry.objects.filter(user_point_id=point_id).exists()
    assert ChoiceChangeLogEntry.objects.filter(user_point_id=kept_id).exists()
    with pytest.raises(DatabaseError), transaction.atomic():
        ChoiceChangeLogEntry.objects.filter(user_point_id=kept_id)._raw_delete("default")


def test_erasure_in_chunks_of_a_point_larger_than_a_chunk(api, drain, setup, monkeypatch):
    monkeypatch.setattr("apps.userpoints.erasure.ERASURE_CHUNK", 3)
    for ts in range(10):
        _post(api, setup, {"$ts": ts, "$type": "SITE_VISIT", "$user_agent_id": "vec:big"})
    drain()
    point_id = UserIdentifier.objects.get(key="vec:big").user_point_id
    record = user_point_erase(datamart_id=setup.datamart.pk, user_point_id=point_id, actor="console:bob")
    assert record.counts["activities"] == 10
    assert record.counts["inbox_payloads"] == 10
    assert not UserPoint.objects.filter(id=point_id).exists()


def test_erasure_of_another_datamarts_point_is_404(api, drain, setup):
    other = datamart_setup()
    _post(api, other, {"$ts": 1, "$type": "SITE_VISIT", "$user_agent_id": "vec:other"})
    drain()
    point_id = UserIdentifier.objects.get(key="vec:other").user_point_id
    status, answer = api("delete", f"/v1/datamarts/{setup.datamart.pk}/user_points/{point_id}", key=setup.key)
    assert status == 404
    assert answer["error_code"] == "RESOURCE_NOT_FOUND"
    assert UserPoint.objects.filter(id=point_id).exists()
