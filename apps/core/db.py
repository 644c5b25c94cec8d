"""Database helpers shared by the read routes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction


@contextmanager
def read_snapshot() -> Iterator[None]:
    """Runs the block in one transaction that sees one snapshot of the database (REPEATABLE READ on PostgreSQL), so a
    read that resolves a selector and then reads the point's data never sees a merge half-done: the point exists in
    both reads or in neither (spec 7). Inside an outer transaction the block joins it (its isolation is already set);
    SQLite serialises writers, and a transaction there already reads one snapshot."""
    connection = transaction.get_connection()
    if connection.in_atomic_block or connection.vendor != "postgresql":
        with transaction.atomic():
            yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield
