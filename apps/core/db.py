"""Database helpers shared by the routes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection, transaction


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


@contextmanager
def raw_cursor() -> Iterator[psycopg.Cursor[tuple[object, ...]]]:
    """A psycopg cursor with server-side binding (`%b` binary parameters, no query text to escape) on Django's
    PostgreSQL connection, for the ingestion routes' INSERTs. Django's own cursor binds on the client.

    It keeps what Django's cursor does for errors: the health check when CONN_HEALTH_CHECKS is on, the refusal to
    run in a broken transaction, and psycopg's errors raised as django.db's (so `except DatabaseError` catches them
    and Django closes a connection that failed at the end of the request).
    """
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor
