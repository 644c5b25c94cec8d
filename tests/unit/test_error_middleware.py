"""Which exceptions the error middleware answers itself, and in which format."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpResponse
from django.test import RequestFactory

from apps.core.middleware import DialectErrorMiddleware

middleware = DialectErrorMiddleware(lambda request: HttpResponse())


def answer(path: str, exception: Exception):
    return middleware.process_exception(RequestFactory().get(path), exception)


@pytest.mark.parametrize(
    ("exception", "status", "code"),
    [
        (Http404(), 404, "RESOURCE_NOT_FOUND"),
        (PermissionDenied(), 403, "FORBIDDEN"),
        (SuspiciousOperation(), 400, "VALIDATION_ERROR"),
        (RuntimeError("boom"), 500, "INTERNAL_ERROR"),
    ],
)
def test_api_paths_answer_in_the_mediarithmics_format(exception, status, code):
    response = answer("/v1/datamarts/1/user_points/x", exception)
    assert response.status_code == status
    body = json.loads(response.content)
    assert body["error_code"] == code
    assert "boom" not in response.content.decode()


@pytest.mark.parametrize("exception", [Http404(), PermissionDenied(), SuspiciousOperation(), RuntimeError("boom")])
def test_the_console_keeps_djangos_own_answers(exception):
    assert answer("/admin/userpoints/userpoint/", exception) is None


def test_other_api_paths_answer_json_with_an_error_id():
    response = answer("/v1/batch", RuntimeError("boom"))
    assert response.status_code == 500
    assert set(json.loads(response.content)) == {"error", "error_id"}
    assert answer("/v1/batch", PermissionDenied()) is None
