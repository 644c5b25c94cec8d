"""Admin columns and read-only fields that depend on who is looking.

The admin calls a `list_display` or `readonly_fields` entry with the object alone, and the ModelAdmin serves every
request of every thread, so a method cannot learn the request's user from `self`. A method decorated with
`viewer_display` takes the viewer as an argument instead; `TenantAdmin` binds it to the request's viewer when it
hands its columns and fields to the admin (`get_list_display`, `get_fields`, `get_readonly_fields`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.console.rendering import NOTHING
from apps.console.viewer import Viewer

ViewerMethod = Callable[[Any, Any, Viewer], Any]


def viewer_display(description: str, *, ordering: str | None = None) -> Callable[[ViewerMethod], ViewerMethod]:
    def mark(method: ViewerMethod) -> ViewerMethod:
        method.needs_viewer = True  # type: ignore[attr-defined]
        method.short_description = description  # type: ignore[attr-defined]
        if ordering:
            method.admin_order_field = ordering  # type: ignore[attr-defined]
        return method

    return mark


class ViewerColumn:
    """A `viewer_display` method bound to one ModelAdmin and one request's viewer: what the admin calls with the
    object alone. Two bindings of the same method for the same viewer are equal, so the admin finds a field of
    `get_fields` among those of `get_readonly_fields`."""

    def __init__(self, method: ViewerMethod, model_admin: Any, viewer: Viewer) -> None:
        self.__name__ = method.__name__
        self.short_description = getattr(method, "short_description", method.__name__)
        if hasattr(method, "admin_order_field"):
            self.admin_order_field = method.admin_order_field
        self._method = method
        self._model_admin = model_admin
        self._viewer = viewer

    def __call__(self, obj: Any) -> Any:
        return self._method(self._model_admin, obj, self._viewer)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ViewerColumn):
            return NotImplemented
        return other.__name__ == self.__name__ and other._viewer is self._viewer

    def __hash__(self) -> int:
        return hash(self.__name__)

    def __repr__(self) -> str:
        return f"<ViewerColumn {self.__name__}>"


def viewer_columns_bind(model_admin: Any, names: Sequence[Any], viewer: Callable[[], Viewer]) -> list[Any]:
    """`names` with each `viewer_display` method bound to the viewer (built only if one is needed)."""
    bound: list[Any] = []
    for name in names:
        method = getattr(type(model_admin), name, None) if isinstance(name, str) else None
        if getattr(method, "needs_viewer", False):
            bound.append(ViewerColumn(method, model_admin, viewer()))  # type: ignore[arg-type]
        else:
            bound.append(name)
    return bound


def compact_id(value: Any) -> SafeString | str:
    """An id as lists show it: a UUID as its first 8 characters (the full id on hover and in the link), on one
    line; shorter ids as they are."""
    if value is None or value == "":
        return NOTHING
    text = str(value)
    if len(text) <= 12:
        return format_html('<span class="console-id">{}</span>', text)
    return format_html('<span class="console-id" title="{}">{}…</span>', text, text[:8])


def answer_column(field: str, description: str, *, yes: str = "yes", no: str = "no") -> Callable[[Any, Any], Any]:
    """A boolean field as words ("accepted" / "refused", "yes" / "no") instead of the admin's coloured icons,
    where a red cross reads as an error; an unknown value is a dash."""

    def column(model_admin: Any, obj: Any) -> SafeString | str:
        value = getattr(obj, field)
        if value is None:
            return NOTHING
        return yes if value else format_html('<span class="console-answer-refused">{}</span>', no)

    column.__name__ = f"{field}_words"
    return admin.display(description=description, ordering=field)(column)
