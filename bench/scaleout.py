"""PostgreSQL scale-out: two gunicorn instances and two schedulers on one database, driven together.

Ratings carry Idempotency-Keys and are retried on the OTHER instance (a balancer that fails over mid-request);
registered cases are rated by token on one instance and again on the other; tablets sync the same walkthrough
batches to both instances at once. Then the schedulers run their jobs, and the database is checked: every 201
stored once, nothing lost, every job's work done exactly once. Usage (see bench/scaleout):
scaleout.py DATABASE_URL TOKEN PORT_A PORT_B [RATINGS] [CASES] [WALKTHROUGHS]
"""
import http.client
import json
import random
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, text

lock = threading.Lock()
tally = Counter()           # (what, status) → count
problems: list[str] = []
acked: dict[str, int] = {}  # marker → rating id answered 201


def call(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    parsed = json.loads(raw) if raw else None
    if response.status >= 500 or b"database is locked" in raw:
        with lock:
            problems.append(f"{method} {path} on :{port} → {response.status} {raw[:200]!r}")
    return response.status, parsed, response.getheader("Idempotent-Replayed") == "true"


def note(what, status):
    with lock:
        tally[(what, status)] += 1


def rate(ports, i, auth):
    """A hall rating with its key, then the same request again on the other instance: it must replay."""
    first, other = ports[i % 2], ports[1 - i % 2]
    key = uuid.uuid4().hex
    body = {"hall": random.choice(["HZ-XC", "HZ-XC-HB", "HZ-XC-JN"]), "score": 1 + i % 5, "channel": "qrcode",
            "comment": f"so-{key}"}
    status, data, _ = call(first, "POST", "/api/v1/ratings", body, {"Idempotency-Key": key, "X-Client-Id": key})
    note("rating", status)
    if status == 201:
        with lock:
            acked[body["comment"]] = data["id"]
    again, replay, replayed = call(other, "POST", "/api/v1/ratings", body, {"Idempotency-Key": key})
    note("rating retry on the other instance", again)
    if status == 201 and (again != 201 or not replayed or replay["id"] != data["id"]):
        with lock:
            problems.append(f"retry of {key} on :{other} gave {again} {replay}")


def case_and_rate(ports, i, auth):
    """A 办件 registered on one instance and again on the other (same token), rated by token with a key on one,
    the key retried on the other, and a second rating of the case refused."""
    first, other = ports[i % 2], ports[1 - i % 2]
    case = {"case_no": f"SO-{uuid.uuid4().hex[:12]}", "hall": "HZ-XC", "item": "SB-001", "window": "04"}
    status, made, _ = call(first, "POST", "/api/v1/cases", case, auth)
    note("case", status)
    status2, again, _ = call(other, "POST", "/api/v1/cases", case, auth)
    note("case repeated on the other instance", status2)
    if status != 201 or status2 != 200 or again["rating_token"] != made["rating_token"]:
        with lock:
            problems.append(f"case {case['case_no']}: {status}/{status2}")
        return
    key = uuid.uuid4().hex
    body = {"rating_token": made["rating_token"], "score": 1 + i % 5, "channel": "miniprogram",
            "comment": f"so-{key}"}
    status, data, _ = call(first, "POST", "/api/v1/ratings", body, {"Idempotency-Key": key})
    note("case rating", status)
    if status == 201:
        with lock:
            acked[body["comment"]] = data["id"]
    retried, replay, replayed = call(other, "POST", "/api/v1/ratings", body, {"Idempotency-Key": key})
    note("case rating retry on the other instance", retried)
    if status == 201 and (retried != 201 or not replayed or replay["id"] != data["id"]):
        with lock:
            problems.append(f"case rating retry {key}: {retried}")
    second, problem, _ = call(other, "POST", "/api/v1/ratings", {**body, "comment": "second"})
    note("second rating of the case", second)
    if second != 409 or problem.get("code") != "already_rated":
        with lock:
            problems.append(f"second rating of {case['case_no']}: {second} {problem}")


def walkthrough(k):
    wid = str(uuid.uuid4())
    findings = [{"id": str(uuid.uuid4()), "step": "wait", "category": "efficiency", "description": f"问题 {j}",
                 "severity": "medium", "needs_rectification": j < 2} for j in range(3)]
    return {"id": wid, "hall": "HZ-XC", "item": "SB-001", "mode": "accompany",
            "observer": {"name": "王建国", "title": "副局长"}, "citizen": {"name": "张三"},
            "started_at": "2026-01-05T09:00:00+08:00", "summary": f"第 {k} 次", "status": "submitted",
            "findings": findings}


def sync_both(ports, batch, auth):
    """The same batch to both instances at once, as two tablets (or a retry after a timeout) would."""
    out = {}

    def send(port):
        out[port] = call(port, "POST", "/api/v1/sync", {"walkthroughs": batch}, auth)

    threads = [threading.Thread(target=send, args=(p,)) for p in ports]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = Counter()
    for status, body, _ in out.values():
        note("sync", status)
        if status == 200:
            outcomes.update(r["outcome"] for r in body["results"])
    if outcomes != Counter(created=len(batch), unchanged=len(batch)):
        with lock:
            problems.append(f"sync outcomes {dict(outcomes)} for a batch of {len(batch)}")


def q(engine, sql):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def main():
    url, token, port_a, port_b = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    n_ratings, n_cases, n_walks = (int(a) for a in (sys.argv[5:8] + ["1200", "300", "120"][len(sys.argv[5:8]):]))
    ports, auth = (port_a, port_b), {"Authorization": f"Bearer {token}"}
    walks = [walkthrough(k) for k in range(n_walks)]
    batches = [walks[i:i + 10] for i in range(0, n_walks, 10)]
    tasks = [(rate, i) for i in range(n_ratings)] + [(case_and_rate, i) for i in range(n_cases)]
    random.Random(7).shuffle(tasks)
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(fn, ports, i, auth) for fn, i in tasks]
        futures += [pool.submit(sync_both, ports, b, auth) for b in batches]
        for f in futures:
            f.result()
    load_s = time.perf_counter() - started
    requests = sum(tally.values())
    print(f"load: {requests:,} requests in {load_s:.1f} s ({requests / load_s:.0f} req/s) over :{port_a} and :{port_b}")
    for (what, status), n in sorted(tally.items()):
        print(f"  {what:42s} {status}: {n:,}")

    engine = create_engine(url)
    bad = "score <= 2 AND effective AND NOT is_default"
    # Let the schedulers (one leads, one stands by) turn every 差评 and walkthrough into items.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        done_items = q(engine, f"SELECT count(*) FROM ratings r WHERE {bad} AND EXISTS (SELECT 1 FROM "
                               "rectification_items i WHERE i.source = 'rating' AND i.source_id = CAST(r.id AS VARCHAR))")
        done_lists = q(engine, "SELECT count(*) FROM rectification_lists WHERE source = 'walkthrough'")
        if done_items == q(engine, f"SELECT count(*) FROM ratings WHERE {bad}") and done_lists == n_walks:
            break
        time.sleep(1)
    time.sleep(3)  # a few more ticks: later runs must find nothing new to do
    waited = time.perf_counter() - started - load_s

    with engine.connect() as conn:
        def one(sql):
            return conn.execute(text(sql)).scalar()

        stored = one("SELECT count(*) FROM ratings WHERE comment LIKE 'so-%'")
        duplicates = one("SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM ratings "
                         "WHERE comment LIKE 'so-%' GROUP BY comment) AS per_key")
        ids = {r[0] for r in conn.execute(text("SELECT id FROM ratings WHERE comment LIKE 'so-%'"))}
        lost = sum(1 for rid in acked.values() if rid not in ids)
        double_rated = one("SELECT count(*) FROM (SELECT case_id FROM ratings WHERE case_id IS NOT NULL "
                           "GROUP BY case_id HAVING count(*) > 1) AS c")
        cases_unrated = one("SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM ratings r "
                            "WHERE r.case_id = c.id)")
        walks_stored = one("SELECT count(*) FROM walkthroughs")
        findings_stored = one("SELECT count(*) FROM findings")
        bad_ratings = one(f"SELECT count(*) FROM ratings WHERE {bad}")
        items_per_bad = dict(conn.execute(text(
            f"SELECT coalesce(n, 0), count(*) FROM ratings r LEFT JOIN (SELECT source_id, count(*) AS n FROM "
            f"rectification_items WHERE source = 'rating' GROUP BY source_id) i ON i.source_id = CAST(r.id AS VARCHAR) "
            f"WHERE {bad} GROUP BY coalesce(n, 0)")).all())
        lists_per_walk = dict(conn.execute(text(
            "SELECT coalesce(n, 0), count(*) FROM walkthroughs w LEFT JOIN (SELECT walkthrough_id, count(*) AS n "
            "FROM rectification_lists GROUP BY walkthrough_id) l ON l.walkthrough_id = w.id "
            "GROUP BY coalesce(n, 0)")).all())
        items_per_finding = dict(conn.execute(text(
            "SELECT coalesce(n, 0), count(*) FROM findings f LEFT JOIN (SELECT source_id, count(*) AS n FROM "
            "rectification_items WHERE source = 'walkthrough' GROUP BY source_id) i ON i.source_id = f.id "
            "WHERE f.needs_rectification GROUP BY coalesce(n, 0)")).all())
        events_per_item = dict(conn.execute(text(
            "SELECT coalesce(n, 0), count(*) FROM rectification_items i LEFT JOIN (SELECT item_id, count(*) AS n "
            "FROM item_events WHERE action = 'create' GROUP BY item_id) e ON e.item_id = i.id "
            "GROUP BY coalesce(n, 0)")).all())
        runs = conn.execute(text("SELECT job, holder, status, count(*) FROM job_runs GROUP BY job, holder, status "
                                 "ORDER BY job, holder, status")).all()
    engine.dispose()

    expected_acks = sum(n for (what, status), n in tally.items() if what in ("rating", "case rating") and status == 201)
    print(f"\njobs done {waited:.1f} s after the load ended; runs by job, scheduler and status:")
    for job, holder, status, n in runs:
        print(f"  {job:26s} {holder:40s} {status}: {n}")
    print(f"\n201s sent (ratings, by key): {expected_acks:,}; distinct acknowledged: {len(acked):,}")
    print(f"rows stored: {stored:,}")
    print(f"duplicates: {duplicates} (must be 0)")
    print(f"lost: {lost} (must be 0)")
    print(f"cases rated twice: {double_rated} (must be 0); cases without their one rating: {cases_unrated} (must be 0)")
    print(f"walkthroughs stored: {walks_stored} of {n_walks}; findings {findings_stored} of {3 * n_walks}")
    print(f"collect_bad_ratings: rectification items per 差评 {items_per_bad} (want {{1: {bad_ratings}}})")
    print(f"build_walkthrough_lists: lists per walkthrough {lists_per_walk} (want {{1: {n_walks}}}); "
          f"items per finding to rectify {items_per_finding} (want {{1: {2 * n_walks}}})")
    print(f"'create' events per item {events_per_item} (want every item at 1)")
    print(f"5xx or 'database is locked' answers: {len(problems)} (must be 0)")
    for p in problems[:10]:
        print("  ", p)
    ok = (not problems and duplicates == 0 and lost == 0 and stored == len(acked) == expected_acks
          and double_rated == 0 and cases_unrated == 0 and walks_stored == n_walks
          and findings_stored == 3 * n_walks and items_per_bad == {1: bad_ratings}
          and lists_per_walk == {1: n_walks} and items_per_finding == {1: 2 * n_walks}
          and set(events_per_item) == {1})
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
