"""Model instances from hand-written SQL, for the statements that every annotator request runs.

RawQuerySet reads the cursor's description and maps its columns to fields and converters anew on
every query: about 0.2 ms of CPU per statement on the annotation hot path, more than the statement
itself costs (bench/annotation_load.py). Here a query's select list starts with the model's own
columns in field order (`columns`), so the mapping and the converters are worked out once per
model and connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

M = TypeVar("M", bound=Model)

# Per connection (each thread has its own), by model: the converters of its columns, by position.
_CONVERTERS: WeakKeyDictionary[BaseDatabaseWrapper, dict[type[Model], list[tuple[int, list[Callable], Any]]]]
_CONVERTERS = WeakKeyDictionary()


@cache
def columns(model: type[Model], alias: str) -> str:
    """The model's columns, qualified by the table alias, in the order `instances` expects."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


@cache
def _names(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


def _converters(db: BaseDatabaseWrapper, model: type[Model]) -> list[tuple[int, list[Callable], Any]]:
    by_model = _CONVERTERS.setdefault(db, {})
    found = by_model.get(model)
    if found is None:
        found = []
        for i, field in enumerate(model._meta.concrete_fields):
            col = field.cached_col
            functions = db.ops.get_db_converters(col) + col.get_db_converters(db)
            if functions:
                found.append((i, functions, col))
        by_model[model] = found
    return found


def instances(
    model: type[M], sql: str, params: Sequence[Any] | Mapping[str, Any]
) -> list[tuple[M, tuple[Any, ...]]]:
    """Run a query whose select list starts with columns(model, alias): per row, the model instance
    (its values converted as the ORM converts them) and the row's further values, as the database
    adapter returns them."""
    db = connections[DEFAULT_DB_ALIAS]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return []
    names = _names(model)
    width = len(names)
    converters = _converters(db, model)
    found = []
    for row in rows:
        values = list(row[:width])
        for i, functions, col in converters:
            for function in functions:
                values[i] = function(values[i], col, db)
        found.append((model.from_db(db.alias, names, values), tuple(row[width:])))
    return found
