"""Every bad input of spec 7 is a 4xx in the dialect's own format, on every route, never a 5xx; and whatever a
route accepts can be processed (a bad choice inside an activity is only that choice's error). The cases are those a
schemathesis run and hand-made inputs found answering 500, or 2xx and then failing in the pipeline, with variants."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from apps.activities.models import InboxPayload, InboxStatus, ProcessingError
from apps.datamarts.services import processing_create

pytestmark = pytest.mark.django_db

HUGE = "31426416999842246656"  # past 64 bits
SUPER_TWO, ARABIC_TWO = "\u00b2", "\u0662"  # str.isdigit() says yes; they are not ASCII digits


def nested(depth: int, leaf: Any = 1) -> Any:
    """Objects `depth` levels deep."""
    value = leaf
    for _ in range(depth):
        value = {"x": value}
    return value


def deep(depth: int) -> str:
    """JSON text of objects `depth` levels deep (written out: json.dumps itself recurses)."""
    return '{"x":' * depth + "1" + "}" * depth


def cases(d: int, c: int, p: int) -> list[tuple[str, str, Any]]:
    """(method, path, JSON body or None) that must each be a 4xx."""
    point = f"/v1/datamarts/{d}/user_points/user_agent_id=vec:1"
    profile = f"{point}/user_profiles/compartment_id={c}/user_account_id=u"
    activity = {"$ts": 1_700_000_000_000, "$type": "TOUCH", "$user_agent_id": "vec:1"}
    found = [
        ("GET", f"/v1/datamarts/{d}/compartments?first_result={HUGE}", None),
        ("GET", f"/v1/datamarts/{d}/processings?first_result={HUGE}", None),
        ("GET", f"/v1/datamarts/{d}/processings?max_results={HUGE}", None),
        ("GET", f"{point}/user_activities?first_result={HUGE}", None),
        ("GET", f"{point}/user_activities?first_result=-1", None),
        ("GET", f"{point}/user_activities?max_results=1001", None),
        ("PUT", f"{point}/user_choices/processing_id={p}", {"$choice_ts": int(HUGE), "$choice_acceptance_value": True}),
        ("PUT", f"{point}/user_choices/processing_id={p}", {"$choice_ts": HUGE, "$choice_acceptance_value": True}),
        ("PUT", f"{point}/user_choices/processing_id={p}", {"$choice_ts": -1, "$choice_acceptance_value": True}),
        ("POST", f"/v1/datamarts/{d}/user_activities", {**activity, "$ts": int(HUGE)}),
        ("POST", f"/v1/datamarts/{d}/user_activities", {**activity, "$ts": 253402300800000}),
        (
            "POST",
            f"/v1/datamarts/{d}/user_activities",
            {**activity, "$events": [{"$ts": int(HUGE), "$event_name": "e"}]},
        ),
        ("PUT", profile, deep(900)),
        ("PUT", profile, nested(65)),  # one level past the limit (64 is accepted, below)
        ("POST", f"/v1/datamarts/{d}/user_activities", {**activity, "deep": nested(70)}),
        ("POST", "/v1/identify", '{"userId": "u", "traits": ' + deep(500) + "}"),
        ("POST", "/v1/batch", '{"batch": [{"type": "identify", "userId": "u", "traits": ' + deep(480) + "}]}"),
        ("POST", "/api/identify", '{"user_id": "u", "traits": ' + deep(989) + "}"),
        ("POST", "/users/track", '{"attributes": [{"external_id": "u", "a": ' + deep(600) + "}]}"),
        ("PUT", profile, {"a": "nul\u0000here"}),
    ]
    for digit in (SUPER_TWO, ARABIC_TWO):
        found += [
            ("GET", f"/v1/datamarts/{digit}/compartments", None),  # a datamart id of the path
            ("POST", f"/v1/datamarts/{digit}/user_activities", activity),
            ("GET", f"{point}/user_activities?filters=$ts=={digit}", None),
            ("GET", f"{point}/user_activities?start_ts={digit}", None),
            ("GET", f"{point}/user_activities?end_ts=1{digit}", None),
            ("GET", f"{point}/user_profiles/compartment_id={digit}", None),
            ("GET", f"{point}/user_choices/processing_id={digit}", None),
            ("GET", f"/v1/datamarts/{d}/user_points/compartment_id={digit},user_account_id=u", None),
            ("GET", f"{point}/user_activities?first_result={digit}", None),
            ("PUT", f"{point}/user_choices/processing_id={digit}", {"$choice_ts": 1, "$choice_acceptance_value": True}),
            ("PUT", f"{point}/user_choices/processing_id={p}", {"$choice_ts": digit, "$choice_acceptance_value": True}),
            (
                "POST",
                f"/v1/datamarts/{d}/user_activities",
                {
                    **activity,
                    "$user_agent_id": None,
                    "$user_identifiers": [{"$type": "USER_ACCOUNT", "$compartment_id": digit, "$user_account_id": "u"}],
                },
            ),
        ]
    for nul in ("%00", "a%00b"):
        found += [
            ("GET", f"/v1/datamarts/{d}/user_points/user_agent_id={nul}", None),
            ("GET", f"/v1/datamarts/{d}/user_points/user_account_id={nul}/user_profiles", None),
            ("GET", f"{point}/user_activities?filters=$type=={nul}", None),
            ("GET", f"{point}/user_profiles/compartment_id={c}/user_account_id={nul}", None),
            ("PUT", f"{point}/user_profiles/compartment_id={c}/user_account_id={nul}", {"a": 1}),
            ("POST", f"/v1/track?x={nul}", {"userId": "u", "event": "e"}),
        ]
    return found


def send(client: Client, key: str, method: str, path: str, body: Any):
    headers = {"Authorization": key}
    if path.startswith("/v1/") and not path.startswith("/v1/datamarts/"):
        headers["Authorization"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    elif path.startswith(("/users/", "/api/")):
        headers["Authorization"] = f"Bearer {key}"
    data = body if isinstance(body, str) else json.dumps(body) if body is not None else None
    return client.generic(method, path, data or "", content_type="application/json", headers=headers)


def test_every_bad_input_is_a_4xx_in_the_dialect_s_format(setup, client):
    processing = processing_create(datamart=setup.datamart, name="P", legal_basis="CONSENT")
    answers = []
    for method, path, body in cases(setup.datamart.pk, setup.default_compartment.pk, processing.pk):
        response = send(client, setup.key, method, path, body)
        answers.append((response.status_code, method, path[:100]))
        assert response["Content-Type"].startswith("application/json"), (method, path)
        parsed = response.json()
        if path.startswith("/v1/datamarts/"):
            assert parsed["status"] == "error", (method, path, parsed)
        elif path.startswith("/v1/"):
            assert {"message", "code"} <= set(parsed), (method, path, parsed)
    wrong = [a for a in answers if not 400 <= a[0] < 500]
    assert wrong == [], wrong
    assert not InboxPayload.objects.exists()  # nothing refused was accepted


def test_the_console_s_page_number_past_64_bits_is_not_a_server_error(setup, client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-123456789"))
    for page in ("999999999999999999999", SUPER_TWO, "-3"):
        assert client.get("/admin/userpoints/userpoint/", {"p": page}).status_code < 500


def test_a_bad_choice_inside_an_activity_is_only_that_choice_s_error(setup, client, drain):
    processing = processing_create(datamart=setup.datamart, name="P", legal_basis="CONSENT")
    activity = {
        "$ts": 1_700_000_000_000,
        "$type": "TOUCH",
        "$user_agent_id": "vec:choices",
        "$events": [
            {
                "$ts": 1_700_000_000_000,
                "$event_name": "$set_user_choice",
                "$properties": {"$processing_id": HUGE, "$choice_acceptance_value": True},
            },
            {
                "$ts": 1_700_000_000_000,
                "$event_name": "$set_user_choice",
                "$properties": {"$processing_id": ARABIC_TWO, "$choice_acceptance_value": True},
            },
            {
                "$ts": 1_700_000_000_000,
                "$event_name": "$set_user_choice",
                "$properties": {"$processing_id": "424242", "$choice_acceptance_value": True},
            },
            {
                "$ts": 1_700_000_000_000,
                "$event_name": "$set_user_choice",
                "$properties": {"$processing_id": str(processing.pk), "$choice_acceptance_value": True},
            },
        ],
    }
    response = send(client, setup.key, "POST", f"/v1/datamarts/{setup.datamart.pk}/user_activities", activity)
    assert response.status_code == 200
    drain()
    row = InboxPayload.objects.get()
    assert row.status == InboxStatus.PROCESSED
    assert ProcessingError.objects.filter(payload=row).count() == 3
    status = client.get(
        f"/v1/datamarts/{setup.datamart.pk}/user_points/user_agent_id=vec:choices/user_choices",
        headers={"Authorization": setup.key},
    )
    assert [c["$processing_id"] for c in status.json()["data"]] == [str(processing.pk)]


def test_405s_carry_allow(setup, client):
    for path, allowed in (
        (f"/v1/datamarts/{setup.datamart.pk}/user_activities", "POST"),
        ("/v1/track", "POST"),
        ("/v1/batch", "POST"),
        ("/v1/m", "POST"),
        ("/users/track", "POST"),
        ("/api/track", "POST"),
        (f"/v1/datamarts/{setup.datamart.pk}/compartments", "GET"),
    ):
        response = client.delete(path, headers={"Authorization": setup.key})
        assert response.status_code == 405, path
        assert allowed in response["Allow"], path


def test_sixty_four_levels_are_accepted(setup, client):
    point = f"/v1/datamarts/{setup.datamart.pk}/user_points/user_agent_id=vec:1"
    url = f"{point}/user_profiles/compartment_id={setup.default_compartment.pk}/user_account_id=u"
    assert send(client, setup.key, "PUT", url, nested(63)).status_code == 200  # 64 with the body's own object
