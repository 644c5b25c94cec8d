from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache, partial
from typing import Any, TypeVar

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, Q
from django.http import HttpRequest

from apps.choices.signals import ConsentMap, Signals
from apps.core.localcache import TtlCache
from apps.datamarts.models import ApiKey, Compartment, Datamart, Processing
from apps.datamarts.services import api_key_hash

# The two selectors below run on every ingestion request. They are written as SQL built once from the models'
# metadata (so they follow the models), because compiling the equivalent querysets cost more than the queries
# themselves: measured with bench/ingest, the ORM versions took about three times as long. What they find is kept
# per process for at most CONFIG_CACHE_SECONDS (apps/core/localcache.py): most requests read no table at all.

M = TypeVar("M", bound=Model)
_Loader = tuple[list[str], list[tuple[Any, list[Callable[..., Any]]]]]


def _loader(connection: BaseDatabaseWrapper, model: type[Model]) -> _Loader:
    """The attribute names of the model's columns and, per column, the converters the ORM would apply."""
    names: list[str] = []
    converters: list[tuple[Any, list[Callable[..., Any]]]] = []
    for field in model._meta.concrete_fields:
        column = field.get_col(model._meta.db_table)
        names.append(field.attname)
        converters.append((column, connection.ops.get_db_converters(column) + column.get_db_converters(connection)))
    return names, converters


def _instance(connection: BaseDatabaseWrapper, model: type[M], loader: _Loader, values: Sequence[Any]) -> M:
    names, converters = loader
    converted = []
    for (column, functions), value in zip(converters, values, strict=True):
        for function in functions:
            value = function(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, names, converted)


@cache
def _active_key_query(alias: str) -> tuple[str, _Loader, _Loader]:
    connection = connections[alias]
    qn = connection.ops.quote_name
    key_table, datamart_table = qn(ApiKey._meta.db_table), qn(Datamart._meta.db_table)
    columns = [f"{key_table}.{qn(f.column)}" for f in ApiKey._meta.concrete_fields]
    columns += [f"{datamart_table}.{qn(f.column)}" for f in Datamart._meta.concrete_fields]
    datamart_fk = qn(ApiKey._meta.get_field("datamart").column)
    sql = (
        f"SELECT {', '.join(columns)} FROM {key_table} INNER JOIN {datamart_table}"  # noqa: S608 (names from the models)
        f" ON {datamart_table}.{qn(Datamart._meta.pk.column)} = {key_table}.{datamart_fk}"
        f" WHERE {key_table}.{qn(ApiKey._meta.get_field('key_hash').column)} = %s"
        f" AND {key_table}.{qn(ApiKey._meta.get_field('revoked_at').column)} IS NULL"
    )
    return sql, _loader(connection, ApiKey), _loader(connection, Datamart)


# Shared by the threads of a process: the ApiKey and Datamart instances in it are only read.
active_keys: TtlCache[tuple[str, str], ApiKey] = TtlCache()
datamart_compartments: TtlCache[tuple[int, str], tuple[frozenset[int], int | None]] = TtlCache()


def config_cache_clear() -> None:
    """Forgets the keys and compartments this process read (when they change: apps/datamarts/apps.py)."""
    active_keys.clear()
    datamart_compartments.clear()


def api_key_get_active(*, raw_key: str, using: str = "default") -> ApiKey | None:
    """The active key with this secret, with its datamart loaded; None for unknown or revoked keys.

    A key revoked in another process may still be found here for CONFIG_CACHE_SECONDS (3 s by default).
    """
    if not raw_key:
        return None
    key_hash = api_key_hash(raw_key)
    return active_keys.get((key_hash, using), partial(_api_key_read, key_hash, using))


def _api_key_read(key_hash: str, using: str) -> ApiKey | None:
    connection = connections[using]
    sql, key_loader, datamart_loader = _active_key_query(using)
    with connection.cursor() as cursor:
        cursor.execute(sql, [key_hash])
        row = cursor.fetchone()  # key_hash is unique: one row at most
    if row is None:
        return None
    width = len(key_loader[0])
    api_key = _instance(connection, ApiKey, key_loader, row[:width])
    ApiKey._meta.get_field("datamart").set_cached_value(
        api_key, _instance(connection, Datamart, datamart_loader, row[width:])
    )
    return api_key


@cache
def _compartments_query(alias: str) -> str:
    qn = connections[alias].ops.quote_name
    fields = Compartment._meta
    return (
        f"SELECT {qn(fields.pk.column)}, {qn(fields.get_field('is_default').column)} FROM {qn(fields.db_table)}"  # noqa: S608
        f" WHERE {qn(fields.get_field('datamart').column)} = %s"
    )


def compartments_of(*, datamart_id: int, using: str = "default") -> tuple[frozenset[int], int | None]:
    """The datamart's compartment ids and its default compartment id (kept CONFIG_CACHE_SECONDS per process)."""
    found = datamart_compartments.get((datamart_id, using), partial(_compartments_read, datamart_id, using))
    assert found is not None, "_compartments_read always answers"
    return found


def _compartments_read(datamart_id: int, using: str) -> tuple[frozenset[int], int | None]:
    ids: set[int] = set()
    default: int | None = None
    with connections[using].cursor() as cursor:
        cursor.execute(_compartments_query(using), [datamart_id])
        rows = cursor.fetchall()
    for pk, is_default in rows:
        ids.add(pk)
        if is_default:
            default = pk
    return frozenset(ids), default


def consent_map_get(*, datamart_id: int) -> ConsentMap:
    """The datamart's processings as consent signals reach them (spec 6): one query."""
    rows = Processing.objects.filter(datamart_id=datamart_id).filter(~Q(consent_categories=[]) | Q(gpc_opt_out=True))
    return ConsentMap.build([(p.pk, list(p.consent_categories or []), p.gpc_opt_out) for p in rows])


def request_signals(request: HttpRequest, *, datamart_id: int) -> Signals:
    """The consent context of an ingestion request: `Sec-GPC: 1`, and the datamart's map, read at most once and
    only if a message of the request carries a signal."""
    return Signals(consent_map=cache(partial(consent_map_get, datamart_id=datamart_id)), gpc=gpc_requested(request))


def gpc_requested(request: HttpRequest) -> bool:
    return request.headers.get("Sec-GPC", "").strip() == "1"
