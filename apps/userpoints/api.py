"""Reads of the UserPoint API (spec 1.4): the point and its identifiers, for every selector form."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import MicsAPIView, listing, ok
from apps.core.errors import ApiError, not_found
from apps.userpoints.models import UserPoint
from apps.userpoints.selector_syntax import SelectorInvalid, selector_parse
from apps.userpoints.selectors import identifiers_render, user_point_for_selector, user_point_render


class UserPointView(MicsAPIView):
    """Base for routes under `/user_points/{selector}`: `self.user_point()` resolves it or answers 404."""

    def user_point(self, selector_text: str) -> UserPoint:
        try:
            selector = selector_parse(selector_text)
        except SelectorInvalid as exc:
            raise ApiError(400, f"Invalid user point selector: {exc}") from None
        point_id = user_point_for_selector(datamart_id=self.datamart_id, selector=selector)
        point = UserPoint.objects.filter(datamart_id=self.datamart_id, id=point_id).first() if point_id else None
        if point is None:
            raise not_found()
        return point


class UserPointDetail(UserPointView):
    def get(self, request: Request, datamart_id: str, selector: str, **kwargs: Any) -> Response:
        return ok(user_point_render(self.user_point(selector)))


class UserPointIdentifiers(UserPointView):
    def get(self, request: Request, datamart_id: str, selector: str, **kwargs: Any) -> Response:
        rows = identifiers_render(self.user_point(selector))
        return listing(rows, total=len(rows), first_result=0, max_results=len(rows))
