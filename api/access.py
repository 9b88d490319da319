"""Who may call a view: every view is marked public or requires a minimum role (read by the scope tests)."""
from functools import wraps

from flask import g, request
from flask_smorest import Blueprint

from service.auth import Principal, authenticate

BEARER = [{"bearerAuth": []}]


def token_of(header: str) -> str | None:
    """The token of an `Authorization: Bearer …` header value, or None."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def bearer_token() -> str | None:
    return token_of(request.headers.get("Authorization", ""))


def public(fn):
    fn._access = "public"
    return fn


def requires(role: str):
    """Authenticate the bearer token and require at least this role (staff < supervisor < admin)."""

    def decorator(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            g.principal = authenticate(bearer_token())
            g.principal.require(role)
            return fn(*args, **kwargs)

        wrapper._access = role
        return Blueprint.doc(security=BEARER)(wrapper)

    return decorator


def principal() -> Principal:
    return g.principal
