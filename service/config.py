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
        # How often each process's thread checkpoints the SQLite WAL (0: SQLite's own autocheckpoint at commit).
        "SQLITE_CHECKPOINT_MS": _env_int("SQLITE_CHECKPOINT_MS", 250),
        "MAX_CONTENT_LENGTH": _env_int("MAX_BODY_BYTES", 64 * 1024),
        # A tablet's offline backlog arrives in one batch, far larger than any single record.
        "SYNC_MAX_BODY_BYTES": _env_int("SYNC_MAX_BODY_BYTES", 4 * 1024 * 1024),
        "SYNC_MAX_BATCH": _env_int("SYNC_MAX_BATCH", 200),
        "RATING_WINDOW_DAYS": _env_int("RATING_WINDOW_DAYS", 7),
        "RATE_LIMIT_ANON_RATINGS": _env_rate("RATE_LIMIT_ANON_RATINGS", "10/600"),
        "RATE_LIMIT_ANON_RATINGS_PER_IP": _env_rate("RATE_LIMIT_ANON_RATINGS_PER_IP", "200/600"),
        "CATALOG_CACHE_SECONDS": _env_int("CATALOG_CACHE_SECONDS", 5),
        # After this an Idempotency-Key is a new request again; the purge_expired job clears it from its rating.
        "IDEMPOTENCY_TTL_HOURS": _env_int("IDEMPOTENCY_TTL_HOURS", 48),
        "TRUST_PROXY_HOPS": _env_int("TRUST_PROXY_HOPS", 0),
        "RATE_LIMIT_RECEIPT_READS": _env_rate("RATE_LIMIT_RECEIPT_READS", "120/60"),
        # Browser origins allowed to call the API (comma-separated); empty means CORS stays closed.
        "CORS_ORIGINS": [o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()],
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        # GET /rectifications' 304 answered before Flask (api.rectification.PollFastPath); 0 leaves it to Flask.
        "POLL_FAST_PATH": bool(_env_int("POLL_FAST_PATH", 1)),
        # 一体验一反馈一清单: deadlines in working days, and the scheduler (flask jobs serve).
        "RECTIFY_VERIFY_DAYS": _env_int("RECTIFY_VERIFY_DAYS", 1),
        "RECTIFY_DAYS": _env_int("RECTIFY_DAYS", 5),
        "RECTIFY_SCHEDULED_DAYS": _env_int("RECTIFY_SCHEDULED_DAYS", 15),
        "JOBS_INTERVAL_SECONDS": _env_int("JOBS_INTERVAL_SECONDS", 60),
        # `flask jobs serve` lowers its CPU priority to this nice value (Linux; service/priority.py).
        "JOBS_NICE": _env_int("JOBS_NICE", 19),
        "OPENDATA_PATH": os.environ.get("OPENDATA_PATH") or str(Path(instance) / "opendata" / "hall-feedback.db"),
        "SCHEDULER_LEASE_SECONDS": _env_int("SCHEDULER_LEASE_SECONDS", 90),
        "SCHEDULER_HEARTBEAT_SECONDS": _env_int("SCHEDULER_HEARTBEAT_SECONDS", 20),
        "SCHEDULER_STALE_SECONDS": _env_int("SCHEDULER_STALE_SECONDS", 120),
        # Events out (service/delivery.py, service/deliverer.py): the deliver_events job and its retries.
        "DELIVERY_INTERVAL_SECONDS": _env_int("DELIVERY_INTERVAL_SECONDS", 5),
        "DELIVERY_TIMEOUT_SECONDS": _env_int("DELIVERY_TIMEOUT_SECONDS", 5),
        "DELIVERY_RUN_SECONDS": _env_int("DELIVERY_RUN_SECONDS", 20),
        "DELIVERY_CONCURRENCY": _env_int("DELIVERY_CONCURRENCY", 4),
        "DELIVERY_CONNECTIONS": _env_int("DELIVERY_CONNECTIONS", 2),
        "DELIVERY_BATCH": _env_int("DELIVERY_BATCH", 100),
        "DELIVERY_MAX_ATTEMPTS": _env_int("DELIVERY_MAX_ATTEMPTS", 12),
        "DELIVERY_BACKOFF_BASE_SECONDS": _env_int("DELIVERY_BACKOFF_BASE_SECONDS", 30),
        "DELIVERY_BACKOFF_MAX_SECONDS": _env_int("DELIVERY_BACKOFF_MAX_SECONDS", 6 * 3600),
        # The delivery threads' nice value (Linux): the intake keeps the CPU first when the machine is busy.
        "DELIVERY_NICE": _env_int("DELIVERY_NICE", 19),
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
        # No pool_pre_ping: a SQLite file cannot go stale, and a PostgreSQL connection the server closed is found
        # at checkout without a round trip (service.database._drop_closed_connection).
        SQLALCHEMY_ENGINE_OPTIONS={},
    )
    app.config.update(cfg)
    if overrides:
        app.config.update(overrides)
