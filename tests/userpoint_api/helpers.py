from __future__ import annotations

from typing import Any

from apps.userpoints.models import UserIdentifier


def base(setup) -> str:
    return f"/v1/datamarts/{setup.datamart.pk}"


def post_activity(api, setup, body: dict[str, Any]) -> None:
    status, answer = api("post", f"{base(setup)}/user_activities", body, key=setup.key)
    assert status == 200, answer


def point_of(key: str):
    return UserIdentifier.objects.get(key=key).user_point_id


def assert_mics_error(status: int, answer: Any, expected_status: int, code: str | None = None) -> None:
    assert status == expected_status, answer
    assert answer["status"] == "error"
    assert set(answer) >= {"error", "error_code", "error_id"}
    if code is not None:
        assert answer["error_code"] == code
