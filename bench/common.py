"""What every bench shares, in one place: the repo's paths, the environment a bench runs the service with, ports,
waiting for a server, stopping one, creating and dropping uniquely named PostgreSQL databases, and counting rows on
either database. The bash scripts reach the same code through bench/lib.sh and this module's command line:

    common.py env                   shell `export` lines: FLASK_APP, APP_ENV, LOG_LEVEL, a fresh SECRET_KEY and PII_KEY
    common.py createdb PREFIX       creates PREFIX_<random> on the PostgreSQL server, prints its name and URL
    common.py dropdb NAME           drops it (connections to it are ended first)
    common.py count DB TABLE        rows in TABLE; DB is a SQLite path or file URL, or a postgresql[+psycopg]:// URL

PostgreSQL: PG_HOST (127.0.0.1), PG_PORT (5432), PG_USER (postgres), trust authentication.
"""
import http.client
import os
import secrets
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("VENV", ROOT / ".venv"))
BIN = (BIN if BIN.is_absolute() else ROOT / BIN) / "bin"
PG_HOST = os.environ.get("PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PG_PORT", "5432"))
PG_USER = os.environ.get("PG_USER", "postgres")
# Ratings without a case are rate-limited per client and per IP; a bench's load all comes from 127.0.0.1, so the
# limits are raised out of reach (the counters are still kept on every request).
OPEN_RATE_LIMITS = {"RATE_LIMIT_ANON_RATINGS": "100000000/60", "RATE_LIMIT_ANON_RATINGS_PER_IP": "100000000/60"}


def bench_env(**extra: str) -> dict[str, str]:
    """The variables a bench runs the service with: the CLI app, quiet logs, a fresh SECRET_KEY and PII_KEY."""
    from cryptography.fernet import Fernet

    return {"FLASK_APP": "wsgi", "APP_ENV": "development", "LOG_LEVEL": "WARNING",
            "SECRET_KEY": secrets.token_urlsafe(32), "PII_KEY": Fernet.generate_key().decode(), **extra}


# ---- ports and servers ------------------------------------------------------------------------------------------
def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def require_free(*ports: int) -> None:
    for port in ports:
        if port_in_use(port):
            raise SystemExit(f"port {port} is already in use; choose another (PORT=…)")


def wait_http(port: int, path: str = "/api/v1/health", proc: subprocess.Popen | None = None,
              timeout: float = 30, headers: dict | None = None) -> None:
    """Until GET path answers 200 (or proc exits, or timeout seconds pass)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server on port {port} exited during start-up (status {proc.returncode})")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path, headers=headers or {})
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"nothing answered GET {path} on port {port} within {timeout:.0f} s")


def start_gunicorn(app: str, port: int, env: dict, *, workers: int = 2, log=None, args: tuple = ()) -> subprocess.Popen:
    """gunicorn in its own process group (so stop() or a SIGKILL reaches master and workers), waited until healthy."""
    proc = subprocess.Popen([str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
                             "--log-level", "warning", *args, app], cwd=ROOT, env=env, stdout=log, stderr=log,
                            start_new_session=True)
    try:
        wait_http(port, proc=proc)
    except BaseException:
        stop(proc)
        raise
    return proc


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """Signal proc's process group (proc must have been started with start_new_session=True), then reap it."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


# ---- fresh databases --------------------------------------------------------------------------------------------
def _admin():
    import psycopg

    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True)


def pg_url(name: str, driver: str = "+psycopg") -> str:
    """SQLAlchemy URL of database `name` (driver "" gives the plain libpq URL psycopg takes)."""
    return f"postgresql{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def create_database(prefix: str) -> str:
    name = f"{prefix}_{secrets.token_hex(4)}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_rows(db: str, table: str) -> int:
    """Rows in table; db is a SQLite path or sqlite:/// URL, or a postgresql[+psycopg]:// URL."""
    if db.startswith("postgresql"):
        import psycopg

        with psycopg.connect(db.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
            return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


if __name__ == "__main__":
    cmd, args = (sys.argv[1] if len(sys.argv) > 1 else ""), sys.argv[2:]
    if cmd == "env":
        print("\n".join(f"export {k}={shlex.quote(v)}" for k, v in bench_env().items()))
    elif cmd == "createdb":
        name = create_database(args[0])
        print(name, pg_url(name))
    elif cmd == "dropdb":
        drop_database(args[0])
    elif cmd == "count":
        print(count_rows(args[0], args[1]))
    else:
        sys.exit(__doc__)
