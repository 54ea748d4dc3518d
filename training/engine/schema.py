"""Pydantic pieces the engine's specs (job, generate, score) share: field types that keep a number's JSON
type, a field's own reason in place of pydantic's wording, and a validation error read back as
(field, reason) pairs.

Plain pydantic (no torch, no Django): the specs are checked before anything heavy is imported.
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from annotated_types import Ge, Le, MinLen
from pydantic import (
    BeforeValidator,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

# Pydantic error types of a value of the right type that breaks a bound; the others mean a wrong type.
_BOUND_ERRORS = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "string_too_short", "too_short"}
)
_REASON = "reason"  # the error type of a reason given by the spec rather than by pydantic


def says(reason: str, out_of_range: str | None = None) -> WrapValidator:
    """Makes any error of the annotated field read `reason`, or `out_of_range` when the value has the right
    type but breaks a bound (a minimum, a minimum length)."""

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            bound = out_of_range is not None and exc.errors()[0]["type"] in _BOUND_ERRORS
            raise reason_error(out_of_range if bound and out_of_range else reason) from None

    return WrapValidator(check)


def reason_error(reason: str, *, field: str | None = None) -> PydanticCustomError:
    """An error to raise in a validator: `reason` about the field being validated, or about `field` (a
    dotted path) from a model validator, which pydantic places on no field."""
    context = {"reason": reason} if field is None else {"reason": reason, "field": field}
    # The reason goes in through the context, so braces in it are not read as a template.
    return PydanticCustomError(_REASON, "{reason}", context)


def _whole_number_as_int(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A JSON number kept as given (1 stays 1, 1.0 stays 1.0); not a bool, not a numeric string.
Number = StrictInt | StrictFloat
# A JSON integer; a float without a fraction (3.0) is taken as that integer. Not a bool.
Integer = Annotated[StrictInt, BeforeValidator(_whole_number_as_int)]


def integer_between(low: int, high: int) -> Any:
    """A JSON integer (not a bool, not 3.0) from `low` to `high`."""
    return Annotated[StrictInt, Ge(low), Le(high), says(f"must be an integer from {low} to {high}")]


def number_between(low: float, high: float) -> Any:
    """A JSON number kept as given, from `low` to `high`."""
    return Annotated[Number, Ge(low), Le(high), says(f"must be a number from {low} to {high}")]


class FieldError(NamedTuple):
    path: str  # dotted: "hyperparameters.beta", "lora.r"; "" for the spec as a whole
    reason: str
    unknown: bool  # a field the model does not have


def errors_read(
    exc: ValidationError, *, missing: str = "is required", unknown: str = "unknown field"
) -> list[FieldError]:
    """The errors of a validation in the order a reader fixes them: unknown top-level fields (by name), then
    by field in the model's order, a nested model's unknown fields (by name) before its other errors.

    An error from pydantic itself reads `missing` for an absent field, `unknown` for a field the model does
    not have, "must be an object" for a value that should be one, else pydantic's message."""
    errors = [(error["loc"], _error_read(error, missing=missing, unknown=unknown)) for error in exc.errors()]
    groups: dict[Any, int] = {}
    for loc, _ in errors:
        groups.setdefault(loc[:1], len(groups))

    def order(item: tuple[tuple[Any, ...], FieldError]) -> tuple[Any, ...]:
        loc, error = item
        if error.unknown and len(loc) == 1:
            return (0, error.path)
        return (1, groups[loc[:1]], not error.unknown, error.path if error.unknown else "")

    return [error for _, error in sorted(errors, key=order)]


def _error_read(error: ErrorDetails, *, missing: str, unknown: str) -> FieldError:
    context = error.get("ctx") or {}
    path = context.get("field") or ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == _REASON:
        return FieldError(path, context["reason"], False)
    if kind == "extra_forbidden":
        return FieldError(path, unknown, True)
    if kind == "missing":
        return FieldError(path, missing, False)
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return FieldError(path, "must be an object", False)
    return FieldError(path, error["msg"], False)


# The generate and score commands' specs: their paths, and their messages ("k must be an integer from 1 to
# 64", "unknown field(s): a, b") rather than the job spec's "field: reason".
PATH_REQUIRED = "is required (a path)"
RequiredPath = Annotated[StrictStr, MinLen(1), says(PATH_REQUIRED)]


def unknown_names(errors: list[FieldError]) -> str:
    """The unknown fields' names (the last part of each path), sorted and joined by commas."""
    return ", ".join(sorted(error.path.rsplit(".", 1)[-1] for error in errors))


def command_spec_message(errors: list[FieldError]) -> str:
    """Every unknown top-level field, else "<field> <reason>" of the first error (the reason alone when it
    is about the spec as a whole)."""
    unknown = [error for error in errors if error.unknown and "." not in error.path]
    if unknown:
        return f"unknown field(s): {unknown_names(unknown)}"
    first = errors[0]
    return f"{first.path} {first.reason}" if first.path else first.reason
