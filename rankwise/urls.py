"""Top-level routes: pages, the REST API, login and the Django admin.

Both login doors (/login/ and /admin/login/) are limited by django-axes, which sits in the
authentication backends and the middleware (rankwise/settings.py), not in these views.
"""

from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

# Redoc (a third-party bundle) injects <style> elements and runs its search in a worker from a blob:
# URL; its page, and only it, allows both. Scripts stay 'self' there too.
_REDOC_POLICY = {"style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]}

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path(
        "api/redoc/",
        csp_update(_REDOC_POLICY)(SpectacularRedocView.as_view(url_name="api-schema")),
        name="api-redoc",
    ),
    path("api/", include("annotation.api.urls")),
    path("api/", include("training.api.urls")),
    path("", include("annotation.urls")),
    path("", include("training.urls")),
]
