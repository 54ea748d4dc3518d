"""Page-number pagination for plain APIViews, with the envelope documented in the schema."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="1-based page number"),
    OpenApiParameter("page_size", int, description="rows per page, at most 200 (default 50)"),
]


class _Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


def paginated_response(
    *, request: Request, view: APIView, queryset: QuerySet, serializer: type[serializers.BaseSerializer], **kw
) -> Response:
    """One page of `queryset` as {count, next, previous, results}; an out-of-range page is a 404."""
    paginator = _Pagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True, **kw).data)


def page_of(serializer: type[serializers.BaseSerializer], name: str) -> type[serializers.Serializer]:
    """The schema of one page of `serializer` rows, as the component `<name>Page`."""
    return type(
        f"{name}Page",
        (serializers.Serializer,),
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer(many=True),
        },
    )
