"""Crash safety: post ratings through gunicorn at full speed, SIGKILL the master and workers mid-load several
times, restart, retry, and prove every rating answered 201 is stored exactly once.

Every request carries its own Idempotency-Key and a marker in its comment, so rows map back to requests.
Requests whose answer was lost with the crash are retried with the same key after the restart, and so is
every acknowledged one: the retries must replay (same id), never store again.

Usage (bench/crash sets up the database and environment): crash.py PORT CYCLES SECONDS THREADS DATABASE_URL
"""
import http.client
import json
import os
import signal
import sys
import threading
import time
import uuid

import common
from sqlalchemy import create_engine, text


def post(port, key, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/api/v1/ratings", body=json.dumps(body, ensure_ascii=False).encode(),
                 headers={"Content-Type": "application/json", "Idempotency-Key": key})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data), response.getheader("Idempotent-Replayed") == "true"


def main():
    port, cycles, seconds, threads = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    url = sys.argv[5]
    env = {**os.environ}
    acked: dict[str, int] = {}      # key → id answered with 201
    unknown: dict[str, dict] = {}   # key → body whose answer was lost
    sent = {"requests": 0, "errors": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def body_for(key):
        return {"hall": "HZ-XC", "score": 1 + hash(key) % 5, "channel": "device", "comment": f"crash-{key}"}

    def load():
        while not stop.is_set():
            key = uuid.uuid4().hex
            body = body_for(key)
            try:
                status, data, _ = post(port, key, body)
            except (OSError, http.client.HTTPException, json.JSONDecodeError):
                with lock:
                    unknown[key] = body
                    sent["errors"] += 1
                time.sleep(0.05)
                continue
            with lock:
                sent["requests"] += 1
                if status == 201:
                    acked[key] = data["id"]
                elif status >= 500:
                    unknown[key] = body

    for cycle in range(cycles):
        server = common.start_gunicorn("wsgi:app", port, env)
        stop.clear()
        workers = [threading.Thread(target=load) for _ in range(threads)]
        for t in workers:
            t.start()
        time.sleep(seconds)
        common.stop(server, signal.SIGKILL)  # master and both workers (its process group), mid-load
        stop.set()
        for t in workers:
            t.join()
        print(f"cycle {cycle + 1}: killed with SIGKILL after {seconds}s; 201s so far {len(acked)}, "
              f"answers lost so far {len(unknown)}")

    server = common.start_gunicorn("wsgi:app", port, env)
    replays = mismatched = recovered = 0
    try:
        for key, body in list(unknown.items()):
            status, data, _ = post(port, key, body)
            if status == 201:
                recovered += 1
                acked.setdefault(key, data["id"])
        for key, rating_id in list(acked.items()):
            status, data, replayed = post(port, key, body_for(key))
            replays += replayed
            mismatched += status != 201 or data["id"] != rating_id
    finally:
        common.stop(server)

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, comment FROM ratings WHERE comment LIKE 'crash-%'")).all()
    engine.dispose()
    stored_ids = {r[0] for r in rows}
    per_key: dict[str, int] = {}
    for _, comment in rows:
        per_key[comment] = per_key.get(comment, 0) + 1
    duplicates = sum(n - 1 for n in per_key.values() if n > 1)
    lost = sum(1 for rid in acked.values() if rid not in stored_ids)
    print(f"\nrequests answered: {sent['requests']}, connections broken by the kills: {sent['errors']}")
    print(f"201s acknowledged (first answers plus lost answers retried after restart): {len(acked)} "
          f"(of which recovered by retry: {recovered})")
    print(f"rows stored: {len(rows)}")
    print(f"retries of acknowledged ratings after restart: {len(acked)}, replayed: {replays}, mismatched: {mismatched}")
    print(f"duplicates: {duplicates} (must be 0)")
    print(f"lost: {lost} (must be 0)")
    ok = duplicates == 0 and lost == 0 and mismatched == 0 and len(rows) == len(acked)
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
