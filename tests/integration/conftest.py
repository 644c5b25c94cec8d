from __future__ import annotations

import pytest


@pytest.fixture
def post(api):
    """post(setup, activity) -> the accepted activity's id, through POST user_activities (asserting a 200)."""

    def send(setup, body: dict) -> str:
        status, answer = api("post", f"/v1/datamarts/{setup.datamart.pk}/user_activities", body, key=setup.key)
        assert status == 200, answer
        return answer["data"]["activity_id"]

    return send
