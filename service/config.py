"""Configuration: defaults fit for the embedded SQLite setup, overridden by environment variables (12-factor).

Every variable is listed in docs/configuration.md; keep the two in step.
"""
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _env_rate(name: str, default: str) -> tuple[int, int]:
    """A rate limit written as 'COUNT/SECONDS'; COUNT 0 switches the limit off."""
    count, seconds = os.environ.get(name, default).split("/")
    return int(count), int(seconds)


def _instance_secret(instance_path: str, filename: str, make) -> str:
    """A development secret generated once and kept under instance/, never used in production."""
    path = Path(instance_path) / filename
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(app, overrides: dict | None = None) -> None:
    env = os.environ.get("APP_ENV", "development")
    instance = app.instance_path
    Path(instance).mkdir(parents=True, exist_ok=True)
    cfg = {
        "APP_ENV": env,
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL") or f"sqlite:///{Path(instance) / 'feedback.db'}",
        "SQLITE_BUSY_TIMEOUT_MS": _env_int("SQLITE_BUSY_TIMEOUT_MS", 10000),
        "MAX_CONTENT_LENGTH": _env_int("MAX_BODY_BYTES", 64 * 1024),
        "RATING_WINDOW_DAYS": _env_int("RATING_WINDOW_DAYS", 7),
        "RATE_LIMIT_ANON_RATINGS": _env_rate("RATE_LIMIT_ANON_RATINGS", "10/600"),
        "RATE_LIMIT_ANON_RATINGS_PER_IP": _env_rate("RATE_LIMIT_ANON_RATINGS_PER_IP", "200/600"),
        "CATALOG_CACHE_SECONDS": _env_int("CATALOG_CACHE_SECONDS", 5),
        "IDEMPOTENCY_TTL_HOURS": _env_int("IDEMPOTENCY_TTL_HOURS", 48),
        "TRUST_PROXY_HOPS": _env_int("TRUST_PROXY_HOPS", 0),
        "PAGE_LIMIT_DEFAULT": 50,
        "PAGE_LIMIT_MAX": 200,
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
    }
    secret = os.environ.get("SECRET_KEY")
    pii_key = os.environ.get("PII_KEY")
    if env == "production" and not (secret and pii_key):
        raise RuntimeError("SECRET_KEY and PII_KEY must be set when APP_ENV=production")
    cfg["SECRET_KEY"] = secret or _instance_secret(instance, "secret.key", lambda: secrets.token_urlsafe(48))
    cfg["PII_KEY"] = pii_key or _instance_secret(instance, "pii.key", lambda: Fernet.generate_key().decode())
    cfg.update(
        API_TITLE="政务服务体验反馈后台",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
    )
    app.config.update(cfg)
    if overrides:
        app.config.update(overrides)
