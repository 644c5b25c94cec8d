"""Database helpers shared by the routes and the writes that move rows between user points."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection, transaction
from django.db.models import Field, Model


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
    # The isolation level goes into the BEGIN psycopg sends before the first query (`BEGIN ISOLATION LEVEL
    # REPEATABLE READ`): one round trip fewer than a separate SET TRANSACTION. Setting it sends nothing; it is put
    # back after the block, so the connection's other transactions keep the configured level.
    connection.ensure_connection()
    driver = connection.connection
    previous = driver.isolation_level
    driver.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        with transaction.atomic():
            yield
    finally:
        if connection.connection is driver and not driver.closed:
            driver.isolation_level = previous


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


def rows_repoint(model: type[Model], field_name: str, moves: Mapping[uuid.UUID, uuid.UUID]) -> int:
    """Sets `field_name` from each old value to its new one (`moves`: old -> new) in one statement: on PostgreSQL an
    UPDATE joined to the pairs as arrays, so a batch of merges costs one query per table, not one per merge."""
    if not moves:
        return 0
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        by_target: dict[uuid.UUID, list[uuid.UUID]] = {}
        for old, new in moves.items():
            by_target.setdefault(new, []).append(old)
        return sum(
            model._default_manager.filter(**{f"{field_name}__in": olds}).update(**{field_name: new})
            for new, olds in by_target.items()
        )
    table = connection.ops.quote_name(model._meta.db_table)
    field = model._meta.get_field(field_name)
    assert isinstance(field, Field)
    column = connection.ops.quote_name(field.column)
    # `= ANY` as well as the join: the planner, which cannot see into unnest(), then reads the column's index
    # instead of hashing the whole table (which made each batch slower than the one before).
    return execute_with_arrays(
        f"UPDATE {table} SET {column} = m.new FROM unnest(%b::uuid[], %b::uuid[]) AS m(old, new)"  # noqa: S608
        f" WHERE {table}.{column} = m.old AND {table}.{column} = ANY(%b)",
        [list(moves), list(moves.values()), list(moves)],
    )


def execute_with_arrays(sql: str, params: Sequence[Any]) -> int:
    """Runs one PostgreSQL statement with parameters bound by the server (`%b` for binary arrays), in the current
    transaction, and returns its row count. Django's cursor binds on the client: it quotes every element of a
    500-value array in Python and sends the statement as text, which cost the drain more than the database work."""
    with raw_cursor() as cursor:
        cursor.execute(sql.encode(), params)
        return cursor.rowcount


def fetch_with_arrays(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """As execute_with_arrays, for a query: its rows."""
    with raw_cursor() as cursor:
        cursor.execute(sql.encode(), params)
        return cursor.fetchall()
