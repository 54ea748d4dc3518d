"""The login page, refusing further attempts after too many failures from one address or for one name."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.forms import Form
from django.http import HttpRequest, HttpResponse


def _keys(request: HttpRequest) -> list[str]:
    username = str(request.POST.get("username", "")).strip().lower()[:150]
    # REMOTE_ADDR is the proxy's address behind one; the per-username key still holds there.
    return [f"login-fail:ip:{request.META.get('REMOTE_ADDR', '')}", f"login-fail:user:{username}"]


def login_attempts_exceeded(*, request: HttpRequest) -> bool:
    """Whether the address or the username has used up its failed attempts in the current window."""
    counts = cache.get_many(_keys(request))
    return any(count >= settings.RANKWISE_LOGIN_ATTEMPTS for count in counts.values())


def login_failure_count(*, request: HttpRequest) -> None:
    """Counts one failed attempt against the address and the username; the window starts at the first."""
    for key in _keys(request):
        if cache.add(key, 1, timeout=settings.RANKWISE_LOGIN_WINDOW_SECONDS):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=settings.RANKWISE_LOGIN_WINDOW_SECONDS)


class RateLimitedLoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if login_attempts_exceeded(request=request):
            context = self.get_context_data(form=self.form_class(self.request), locked_out=True)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Form) -> HttpResponse:
        login_failure_count(request=self.request)
        return super().form_invalid(form)
