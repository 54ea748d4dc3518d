"""OpenAPI pieces both apps' schema hooks share: the error body, the usual responses, and the way a
plain APIView gets its description without touching the view.

drf-spectacular cannot guess the bodies of APIViews that build their responses by hand; each app's
api/schema.py lists extend_schema arguments per view and `view_extensions` wraps each view with
them. Each app's api/urls.py imports its schema module once.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_view
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer and of the 503 while the database is down (rankwise/api/errors.py)."""

    error = serializers.CharField()
    details = serializers.ListField(child=serializers.DictField())


ERRORS = {
    400: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
    503: ErrorSerializer,
}
_OBJECT = OpenApiResponse(OpenApiTypes.OBJECT)


def named(name: str, serializer: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The serializer under a unique component name (nested ones are all called InputSerializer)."""
    return type(name, (serializer,), {})


def ok(response: object = _OBJECT, status: int = 200) -> dict:
    """The responses of an endpoint: `response` with `status`, and the error bodies."""
    return {status: response, **ERRORS}


def _extension(target: str, schemas: dict) -> type[OpenApiViewExtension]:
    def view_replacement(self: OpenApiViewExtension) -> type:
        return extend_schema_view(**schemas)(type(self.target.__name__, (self.target,), {}))

    name = target.rsplit(".", 1)[1] + "Schema"
    return type(name, (OpenApiViewExtension,), {"target_class": target, "view_replacement": view_replacement})


def view_extensions(views: dict[str, dict]) -> list[type[OpenApiViewExtension]]:
    """Registers (by creating them) the extensions that describe each view: {dotted path: {method:
    extend_schema(...)}}."""
    return [_extension(target, schemas) for target, schemas in views.items()]
