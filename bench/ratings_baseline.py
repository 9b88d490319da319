"""bench/ratings baseline: the least a rating intake can do — parse the JSON body, one raw sqlite3 INSERT, 201.

Served by gunicorn exactly like the service (2 workers, same worker class) on a SQLite file with the service's
connection settings (WAL, synchronous=NORMAL, busy_timeout, foreign keys). `python ratings_baseline.py init DB`
creates the table.
"""
import json
import os
import sqlite3
import sys
from datetime import UTC, datetime

from flask import Flask, request

SCHEMA = """
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT UNIQUE,
    hall_code TEXT NOT NULL, item_code TEXT, window_code TEXT,
    score INTEGER NOT NULL, channel TEXT NOT NULL, tags TEXT, comment TEXT,
    created_at TEXT NOT NULL
)
"""

app = Flask(__name__)
_conn: sqlite3.Connection | None = None


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(os.environ.get('SQLITE_BUSY_TIMEOUT_MS', '10000'))}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def db() -> sqlite3.Connection:
    global _conn
    if _conn is None:  # opened in the worker, after gunicorn forks
        _conn = connect(os.environ["BASELINE_DB"])
    return _conn


@app.post("/ratings")
def create_rating():
    data = request.get_json()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    cur = db().execute(
        "INSERT INTO ratings (idempotency_key, hall_code, item_code, window_code, score, channel, tags, comment,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (request.headers.get("Idempotency-Key"), data["hall"], data.get("item"), data.get("window"), data["score"],
         data["channel"], json.dumps(data.get("tags") or [], ensure_ascii=False), data.get("comment"), created))
    return {"id": cur.lastrowid, "score": data["score"], "created_at": created}, 201


if __name__ == "__main__" and sys.argv[1:2] == ["init"]:
    with connect(sys.argv[2]) as conn:
        conn.execute(SCHEMA)
