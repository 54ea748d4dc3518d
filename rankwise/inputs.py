"""The limits every request's input is held to at the door, before any field reaches a service.

PostgreSQL refuses NUL in text and jsonb, and lone surrogates cannot be encoded at all; Python's
json recurses once per nesting level; and a bigint column holds signed 64 bits. Each would
otherwise surface deep inside a service as a 500, so the parsers and the input middleware refuse
them here, naming the field, with a 400.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from rankwise.errors import ValidationFailed

MAX_DEPTH = 64
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
# A body with many problems is answered with the first this many.
MAX_PROBLEMS = 20

NUL_REASON = "contains a NUL character"
SURROGATE_REASON = "contains a lone surrogate (not valid Unicode)"
DEPTH_REASON = f"nested deeper than {MAX_DEPTH} levels"
INT_REASON = f"an integer outside {INT_MIN}…{INT_MAX}"
FLOAT_REASON = "a number too large to hold"

_NUL_OR_SURROGATE = re.compile("[\x00\ud800-\udfff]")
_NUMERAL = re.compile(r"\s*(?P<sign>[-+]?)(?P<digits>\d+)(?:\.0*)?\s*", re.ASCII)

Path = tuple[str | int, ...]


def field_name(path: Path) -> str | None:
    """`lora.target_modules[0]` for ("lora", "target_modules", 0); None for the body itself."""
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name or None


def _text_reason(text: str) -> str | None:
    found = _NUL_OR_SURROGATE.search(text)
    if found is None:
        return None
    return NUL_REASON if found.group() == "\x00" else SURROGATE_REASON


def json_problems(data: object) -> list[dict]:
    """Each place in a parsed JSON document that no field may hold, as {"field", "reason"}:
    nesting deeper than MAX_DEPTH (named by its top-level field), NUL or lone surrogates in a
    string or key, integers outside signed 64 bits and numbers too large for a float.

    Walks with its own stack, so a document as deep as json could parse costs no recursion."""
    problems: list[dict] = []
    # (value, path, depth of the containers around it)
    stack: list[tuple[object, Path, int]] = [(data, (), 0)]
    while stack and len(problems) < MAX_PROBLEMS:
        value, path, depth = stack.pop()
        reason = None
        if isinstance(value, str):
            reason = _text_reason(value)
        elif isinstance(value, bool):
            pass
        elif isinstance(value, int):
            reason = INT_REASON if not INT_MIN <= value <= INT_MAX else None
        elif isinstance(value, float):
            reason = FLOAT_REASON if not math.isfinite(value) else None
        elif isinstance(value, dict | list):
            if depth == MAX_DEPTH:
                problems.append({"field": field_name(path[:1]), "reason": DEPTH_REASON})
                continue
            if isinstance(value, dict):
                for key, item in reversed(value.items()):
                    key_reason = _text_reason(key)
                    if key_reason is not None:
                        # The key itself is unprintable; name the object and show the key escaped.
                        problems.append({"field": field_name(path), "reason": f"key {key!r} {key_reason}"})
                        continue
                    stack.append((item, (*path, key), depth + 1))
            else:
                stack.extend((value[i], (*path, i), depth + 1) for i in range(len(value) - 1, -1, -1))
        if reason is not None:
            problems.append({"field": field_name(path), "reason": reason})
    # Many too-deep branches of one field make one problem.
    return [dict(p) for p in dict.fromkeys(tuple(p.items()) for p in problems)]


def _numeral_out_of_range(text: str) -> bool:
    """Whether `text` is a whole number (as DRF's IntegerField reads one: "12", " -3 ", "7.0")
    outside signed 64 bits."""
    found = _NUMERAL.fullmatch(text)
    if found is None:
        return False
    digits = found.group("digits").lstrip("0")
    # Compared as text first: int() refuses numerals of more than 4,300 digits.
    return len(digits) > 19 or not INT_MIN <= int(found.group("sign") + (digits or "0")) <= INT_MAX


def text_problems(pairs: Iterable[tuple[str | None, str]], *, numerals: bool = False) -> list[dict]:
    """Each (field, text) whose text holds NUL or a lone surrogate, or with `numerals` is a whole
    number outside signed 64 bits (query parameters and form fields carry numbers as text), as
    {"field", "reason"}; a field name that holds NUL is reported escaped."""
    problems = []
    for field, text in pairs:
        if field is not None and _text_reason(field) is not None:
            problems.append({"field": repr(field), "reason": f"the name {_text_reason(field)}"})
        elif (reason := _text_reason(text)) is not None:
            problems.append({"field": field, "reason": reason})
        elif numerals and _numeral_out_of_range(text):
            problems.append({"field": field, "reason": INT_REASON})
        if len(problems) == MAX_PROBLEMS:
            break
    return problems


def refused(problems: list[dict]) -> ValidationFailed:
    """One ValidationFailed for the problems found, the first one in its message."""
    first = problems[0]
    where = f"{first['field']}: " if first["field"] else ""
    return ValidationFailed(f"The request cannot be accepted: {where}{first['reason']}.", details=problems)


def json_check(data: object) -> None:
    """Raises ValidationFailed naming each problem json_problems finds."""
    problems = json_problems(data)
    if problems:
        raise refused(problems)


def too_deep() -> ValidationFailed:
    """For a body nested so deep that the parser itself gave up (its top-level field is unknown)."""
    return refused([{"field": None, "reason": DEPTH_REASON}])
