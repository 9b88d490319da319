"""The baselines the benches compare the service with: a bare Flask app served by gunicorn like the service.

- GET /api/v1/<anything>: a small constant JSON body, the floor of an HTTP GET (bench/jobs, bench/stats).
- POST /ratings: the least a rating intake can do: parse the JSON body, one INSERT, 201 (bench/ratings). On
  SQLite (BASELINE_DB=path: raw sqlite3 with the service's connection settings: WAL, synchronous=NORMAL,
  busy_timeout, foreign keys) or on PostgreSQL (BASELINE_DATABASE_URL=postgresql://…: psycopg 3, autocommit, one
  connection kept per worker), one connection per worker opened after gunicorn forks.

`python bench/baseline_app.py init [DB]` creates the ratings table; DB (a path or a postgresql:// URL) defaults to
the environment's.
"""
import json
import os
import sys
from datetime import UTC, datetime

from flask import Flask, jsonify, request

COLUMNS = "idempotency_key TEXT UNIQUE, hall_code TEXT NOT NULL, item_code TEXT, window_code TEXT, " \
          "score INTEGER NOT NULL, channel TEXT NOT NULL, tags TEXT, comment TEXT, created_at TEXT NOT NULL"
SCHEMA = {"sqlite": f"CREATE TABLE IF NOT EXISTS ratings (id INTEGER PRIMARY KEY AUTOINCREMENT, {COLUMNS})",
          "postgresql": f"CREATE TABLE IF NOT EXISTS ratings (id BIGSERIAL PRIMARY KEY, {COLUMNS})"}
INSERT = ("INSERT INTO ratings (idempotency_key, hall_code, item_code, window_code, score, channel, tags, comment, "
          "created_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})")

app = Flask(__name__)
BODY = {"items": [], "next_cursor": None}


def target() -> str:
    return os.environ.get("BASELINE_DATABASE_URL") or os.environ.get("BASELINE_DB", "")


def connect(db: str):
    if db.startswith("postgresql"):
        import psycopg

        return psycopg.connect(db.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True)
    import sqlite3

    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(os.environ.get('SQLITE_BUSY_TIMEOUT_MS', '10000'))}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


_conn = None
_insert = ""


def db():
    global _conn, _insert
    if _conn is None:  # opened in the worker, after gunicorn forks
        db_target = target()
        if not db_target:
            raise RuntimeError("set BASELINE_DB (a SQLite path) or BASELINE_DATABASE_URL (postgresql://…)")
        _conn = connect(db_target)
        if db_target.startswith("postgresql"):
            _insert = INSERT.format(p="%s") + " RETURNING id"
        else:
            _insert = INSERT.format(p="?")
    return _conn


@app.get("/api/v1/<path:anything>")
def anything(anything):
    return jsonify(BODY)


@app.post("/ratings")
def create_rating():
    data = request.get_json()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    conn = db()
    params = (request.headers.get("Idempotency-Key"), data["hall"], data.get("item"), data.get("window"),
              data["score"], data["channel"], json.dumps(data.get("tags") or [], ensure_ascii=False),
              data.get("comment"), created)
    cur = conn.execute(_insert, params)
    rating_id = cur.fetchone()[0] if _insert.endswith("RETURNING id") else cur.lastrowid
    return {"id": rating_id, "score": data["score"], "created_at": created}, 201


if __name__ == "__main__":
    if sys.argv[1:2] != ["init"]:
        sys.exit(__doc__)
    path = sys.argv[2] if len(sys.argv) > 2 else target()
    conn = connect(path)
    conn.execute(SCHEMA["postgresql" if path.startswith("postgresql") else "sqlite"])
    conn.close()
