"""Serializer fields shared by both apps' doors."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from rankwise.inputs import DEPTH_REASON, json_problems


class JSONField(serializers.JSONField):
    """DRF's JSONField held to the limits of rankwise.inputs (nesting, NUL, integer range) for
    JSON text in a form field too: the API's JSON parser checks JSON bodies, but a form field's
    JSON text is parsed here, where thousands of "[" would exhaust json's recursion (a 500)."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            value = super().to_internal_value(data)
        except RecursionError:
            raise serializers.ValidationError(DEPTH_REASON) from None
        problems = json_problems(value)
        if problems:
            raise serializers.ValidationError(
                [f"{p['field']}: {p['reason']}" if p["field"] else p["reason"] for p in problems]
            )
        return value
