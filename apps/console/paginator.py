"""A paginator that never counts: it fetches one row more than a page to know whether a next page exists.

On a datamart of a million user points, `SELECT COUNT(*)` under every list page is the slow part; an index
scan for `per_page + 1` rows is not.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator

MAX_PAGE = 10_000_000


class NoCountPaginator(Paginator):  # type: ignore[type-arg]
    counts_exactly = False  # read by templates/admin/pagination.html and search_form.html

    def __init__(self, object_list: Any, per_page: int, *, page_number: Any = 1) -> None:
        super().__init__(object_list, per_page, allow_empty_first_page=True)
        try:
            # Bounded: a page past a billion rows is no page, and an offset past 64 bits fails in the database.
            self.current = min(max(1, int(str(page_number), 10)), MAX_PAGE)
        except (TypeError, ValueError):
            self.current = 1

    @cached_property
    def _window(self) -> list[Any]:
        offset = (self.current - 1) * self.per_page
        return list(self.object_list[offset : offset + self.per_page + 1])

    @cached_property
    def has_next(self) -> bool:
        return len(self._window) > self.per_page

    @cached_property
    def count(self) -> int:
        """A lower bound, exact on the last page: the rows before this page, this page and one more if any."""
        return (self.current - 1) * self.per_page + len(self._window)

    def validate_number(self, number: Any) -> int:
        try:
            value = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger("That page number is not an integer") from None
        if value < 1 or (value > 1 and not self._window):
            raise EmptyPage("That page contains no results")
        return value

    def page(self, number: Any) -> Page:  # type: ignore[type-arg]
        number = self.validate_number(number)
        if number != self.current:
            # The admin asks only for the page it was built for; another page needs its own paginator.
            raise EmptyPage("NoCountPaginator serves only its current page")
        return Page(self._window[: self.per_page], number, self)
