"""The API's body parsers (DEFAULT_PARSER_CLASSES): DRF's, held to the limits of rankwise.inputs.

A refused body is a 400 naming each field (ValidationFailed), before any serializer or service
sees it: serializer fields such as JSONField and DictField take any nested value, and the
database refuses NUL and surrogates in text and jsonb with an error that would be a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.http import QueryDict
from rest_framework import parsers

from rankwise.inputs import json_check, refused, text_problems, too_deep


class JSONParser(parsers.JSONParser):
    """JSON nested at most MAX_DEPTH deep, with no NUL or lone surrogate in its strings and keys,
    and integers within signed 64 bits."""

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Mapping | None = None
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            # json recurses once per level: thousands of "[" exhaust the stack before any check.
            raise too_deep() from None
        json_check(data)
        return data


def _form_check(data: QueryDict) -> None:
    problems = text_problems(
        ((name, value) for name, values in data.lists() for value in values), numerals=True
    )
    if problems:
        raise refused(problems)


class FormParser(parsers.FormParser):
    """URL-encoded forms without NUL in their names or values, nor whole numbers past signed 64
    bits (a form's numbers are text until a serializer field reads them)."""

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Mapping | None = None
    ) -> QueryDict:
        data = super().parse(stream, media_type, parser_context)
        _form_check(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """Multipart forms held to FormParser's rules (file contents are the importer's to check)."""

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Mapping | None = None
    ) -> parsers.DataAndFiles:
        parsed = super().parse(stream, media_type, parser_context)
        _form_check(parsed.data)
        return parsed
