"""Token authentication for API clients, with the token and its user read by one hand-written query.

Clients send their token on every request; DRF's own class builds an ORM query with a join to the
user each time, and compiling it cost more CPU than running it (bench/annotation_load.py).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from rankwise import rows


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, Token]:
        users = get_user_model()
        found = rows.instances(
            users,
            f"SELECT {rows.columns(users, 'u')}, t.created FROM {users._meta.db_table} u"
            f" JOIN {Token._meta.db_table} t ON t.user_id = u.id WHERE t.key = %s",
            [key],
        )
        if not found:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        [(user, (created,))] = found
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token.from_db(user._state.db, ["key", "user_id", "created"], [key, user.pk, created])
        token.user = user
        return user, token
