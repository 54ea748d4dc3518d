"""URLs for bench/annotation_load.py: every product route plus /bench/baseline/<pk>/.

The baseline is the cheapest JSON view Django serves on the same stack (middleware, gunicorn,
database): one SELECT by primary key, no authentication, no DRF.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from annotation.models import Comparison
from rankwise.urls import urlpatterns as product_urlpatterns


def baseline(request: HttpRequest, pk: int) -> JsonResponse:
    row = Comparison.objects.filter(pk=pk).values("id", "judgment_count").first()
    return JsonResponse({"comparison": row})


urlpatterns = [path("bench/baseline/<int:pk>/", baseline), *product_urlpatterns]
