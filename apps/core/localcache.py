"""A per-process cache of configuration the ingestion routes read on every request (API keys, compartments).

Each web process keeps what it read for at most `CONFIG_CACHE_SECONDS` (setting, 3 s by default), so a change made
in another process (a key revoked in the console, an origin removed) is seen everywhere within that bound; the
process that made the change sees it at once, because saving or deleting the models clears the cache
(apps/datamarts/apps.py). Only found values are kept: an unknown key is looked up again on every request, so a key
created anywhere works at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.conf import settings

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# A process holds one entry per active key or datamart it served; past this many something is wrong (or someone is
# sending a great many valid keys): start over rather than grow.
MAX_ENTRIES = 10_000


class TtlCache(Generic[K, V]):
    def __init__(self) -> None:
        self._entries: dict[K, tuple[float, V]] = {}
        # Bumped by clear(): a value read before a clear is not stored after it (it may predate the change).
        self._generation = 0

    def get(self, key: K, load: Callable[[], V | None]) -> V | None:
        """The cached value of `key`, else `load()` (stored unless None). No lock: a dict operation is atomic under
        the GIL, and two threads loading the same key at once only read the database twice."""
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and now < entry[0]:
            return entry[1]
        generation = self._generation
        value = load()
        seconds = settings.CONFIG_CACHE_SECONDS
        if value is not None and seconds > 0 and generation == self._generation:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            # From before the read: the value is never served longer than `seconds` after the state it reflects.
            self._entries[key] = (now + seconds, value)
        return value

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
