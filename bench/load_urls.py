"""URLs for bench/annotation_load.py: every product route plus two baselines.

/bench/baseline/<pk>/ is the cheapest JSON view Django serves on the same stack (middleware, gunicorn,
database): one SELECT by primary key, no authentication, no DRF. /bench/baseline-api/<pk>/ is the same
read behind DRF with the product's API defaults (session or token authentication, IsAuthenticated,
the throttles), which every door of the annotation API pays too.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Comparison
from rankwise.urls import urlpatterns as product_urlpatterns


def _row(pk: int) -> dict | None:
    return Comparison.objects.filter(pk=pk).values("id", "judgment_count").first()


def baseline(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"comparison": _row(pk)})


class BaselineApi(APIView):
    def get(self, request: Request, pk: int) -> Response:
        return Response({"comparison": _row(pk)})


urlpatterns = [
    path("bench/baseline/<int:pk>/", baseline),
    path("bench/baseline-api/<int:pk>/", BaselineApi.as_view()),
    *product_urlpatterns,
]
