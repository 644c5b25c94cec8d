from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag
def page_url(cl: Any, number: int) -> str:
    """The changelist URL of page `number`, keeping the search and the filters."""
    if number <= 1:
        return str(cl.get_query_string(remove=["p"]))
    return str(cl.get_query_string({"p": number}))
