"""bench/fuzz: the conformance run a client author makes, with every check, against gunicorn on a fresh database.

Migrates a fresh database (a SQLite file, or --database-url), loads the demo catalog, creates the run's admin and
a bystander account, starts gunicorn (gunicorn.conf.py) and seeds what the run cannot create by itself: a case and
its rating token, a named 差评 with its receipt, its rectification item and list (the jobs run once), a walkthrough, a
subscription whose deliveries fail. Then `schemathesis run …/api/v1/openapi.json --checks all` with the admin's
token, from the repository root so that schemathesis.toml and its checks (tests/contract_checks.py) apply, and with
a copy of that file extended by dictionaries of the seeded and catalog values: each is drawn for its parameter half
of the time, so the requests reach the handlers as well as their 404s. Prints schemathesis's report and exits with
its status (0: no failure). tests/test_fuzz.py runs this with a few examples per operation.
"""
import argparse
import csv
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import BIN, ROOT, bench_env, require_free, start_gunicorn, stop

PREFIX = "/api/v1"


def flask(env: dict, *cli: str) -> str:
    return subprocess.run([str(BIN / "flask"), *cli], cwd=ROOT, env=env, check=True, capture_output=True,
                          text=True).stdout


def create_account(env: dict, role: str, name: str, hall: str | None = None) -> tuple[int, str]:
    out = flask(env, "accounts", "create", "--role", role, "--name", name, *(["--hall", hall] if hall else []))
    return int(re.search(r"账号 (\d+)", out).group(1)), out.strip().splitlines()[-1]


class Api:
    def __init__(self, port: int, token: str):
        self.port, self.token = port, token

    def call(self, method: str, path: str, body=None, auth: bool = True) -> dict:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        conn.request(method, PREFIX + path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise SystemExit(f"seeding failed: {method} {path} → {response.status} {data[:300]!r}")
        return json.loads(data) if data else {}


def catalog() -> dict[str, list[str]]:
    rows = list(csv.DictReader((ROOT / "service/data/demo_catalog.csv").open(encoding="utf-8")))
    return {"halls": [r["code"] for r in rows if r["type"] == "hall"],
            "items": [r["code"] for r in rows if r["type"] == "item"],
            "windows": sorted({r["code"] for r in rows if r["type"] == "window"}),
            "tags": [r["code"] for r in rows if r["type"] == "tag"]}


def seed(api: Api, env: dict) -> dict[str, list]:
    """What the run cannot create by itself, as the values each path or query parameter can take."""
    # First, so that the ratings below are events for it; nothing listens on port 9, so its deliveries fail.
    sub = api.call("POST", "/subscriptions", {"name": "不可达的接收方", "url": "http://127.0.0.1:9/hook",
                                              "events": ["rating.created", "rating.bad"], "format": "webhook"})
    case = api.call("POST", "/cases", {"case_no": "FUZZ-0001", "hall": "HZ-XC", "item": "SB-001", "window": "04",
                                       "staff_no": "A012"})
    rated = api.call("POST", "/cases", {"case_no": "FUZZ-0002", "hall": "HZ-XC", "item": "SB-001", "window": "04"})
    bad = api.call("POST", "/ratings", {"rating_token": rated["rating_token"], "score": 1, "channel": "miniprogram",
                                        "tags": ["QUEUE"], "comment": "排队太久", "anonymous": False, "name": "张三",
                                        "phone": "13812345678"}, auth=False)
    hall_rating = api.call("POST", "/ratings", {"hall": "HZ-XC", "score": 2, "channel": "qrcode"}, auth=False)
    walk_ids = []
    for n, status in enumerate(("draft", "submitted")):
        walk = {"id": f"5b0b5a54-0c2e-4a3e-9d1e-6f6c0a6f4e2{n}", "hall": "HZ-XC", "item": "SB-001", "mode": "accompany",
                "observer": {"name": "李四"}, "started_at": "2026-01-05T09:00:00+08:00", "status": status,
                "findings": [{"id": f"0d9a7e1c-2b4f-4c8a-b1e2-3f4a5b6c7d8{n}", "step": "wait", "category": "time_limit",
                              "description": "取号后等候 45 分钟", "severity": "medium", "needs_rectification": True}]}
        walk_ids.append(api.call("POST", "/walkthroughs", walk)["id"])
    for job in ("collect_bad_ratings", "build_walkthrough_lists", "deliver_events"):
        flask(env, "jobs", "run", job)
    items = [i["id"] for i in api.call("GET", "/rectifications")["items"]]
    lists = [x["code"] for x in api.call("GET", "/rectification-lists")["items"]]
    deliveries = [d["id"] for d in api.call("GET", "/deliveries")["items"]]
    return {"item_id": items, "rating_id": [bad["id"], hall_rating["id"]],
            "receipt": [bad["receipt"], hall_rating["receipt"]], "walkthrough_id": walk_ids,
            "token": [case["rating_token"]], "case_no": ["FUZZ-0001", "FUZZ-0002"], "list_code": lists,
            "sub_id": [sub["id"]], "delivery_id": deliveries}


def run_config(values: dict[str, list], bystanders: list[int]) -> str:
    """schemathesis.toml, extended by dictionaries of known values and the parameters they are drawn for."""
    known = catalog()
    dictionaries = {**known, **values, "account_id": bystanders,
                    "code": known["halls"] + known["items"] + known["tags"] + values["list_code"]}
    lines = [(ROOT / "schemathesis.toml").read_text(), ""]
    for name, entries in dictionaries.items():
        if entries:
            lines += [f"[dictionaries.{name}]", f"values = {json.dumps(entries, ensure_ascii=False)}", ""]
    bindings = {"path.item_id": "item_id", "path.rating_id": "rating_id", "query.receipt": "receipt",
                "path.walkthrough_id": "walkthrough_id", "path.token": "token", "path.case_no": "case_no",
                "path.code": "code", "path.window": "windows", "path.sub_id": "sub_id",
                "path.delivery_id": "delivery_id", "path.account_id": "account_id", "query.hall": "halls",
                "body.hall": "halls", "query.item": "items", "body.item": "items", "body.window": "windows",
                "body.tags[*]": "tags", "body.parent_code": "halls", "body.halls[*]": "halls"}
    lines.append("[parameters]")
    for key, name in bindings.items():
        if dictionaries.get(name):
            lines.append(f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}')
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty database (default: a fresh SQLite file)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8190)))
    parser.add_argument("--max-examples", type=int, help="generated requests per operation and phase "
                                                          "(schemathesis's default: 100)")
    parser.add_argument("--seed", help="schemathesis's seed (default: a new one, printed in its report)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    require_free(args.port)
    tmp = Path(tempfile.mkdtemp(prefix="bench-fuzz-"))
    env = {**os.environ, **bench_env(DATABASE_URL=args.database_url or f"sqlite:///{tmp / 'fuzz.db'}")}
    flask(env, "db", "upgrade")
    flask(env, "catalog", "demo")
    own_id, token = create_account(env, "admin", "一致性测试")
    bystanders = [create_account(env, "admin", "旁观管理员")[0], create_account(env, "staff", "旁观窗口", "HZ-XC")[0]]
    server = start_gunicorn("wsgi:app", args.port, env, workers=args.workers, args=("-c", "gunicorn.conf.py"),
                            log=(tmp / "gunicorn.log").open("w"))
    try:
        config = tmp / "schemathesis.toml"
        config.write_text(run_config(seed(Api(args.port, token), env), bystanders), encoding="utf-8")
        command = [str(BIN / "schemathesis"), "--config-file", str(config), "run",
                   f"http://127.0.0.1:{args.port}{PREFIX}/openapi.json", "--checks", "all",
                   "-H", f"Authorization: Bearer {token}", "--no-color"]
        command += ["--max-examples", str(args.max_examples)] if args.max_examples else []
        command += ["--seed", args.seed] if args.seed else []
        # The hook keeps the run's own token from being rotated away (tests/contract_checks.py).
        status = subprocess.run(command, cwd=ROOT, env={**env, "FUZZ_OWN_ACCOUNT_ID": str(own_id)}).returncode
    finally:
        stop(server)
    errors = [line for line in (tmp / "gunicorn.log").read_text().splitlines() if "Traceback" in line]
    if errors:
        print(f"gunicorn logged {len(errors)} tracebacks ({tmp / 'gunicorn.log'})", file=sys.stderr)
        return 1
    if status == 0:
        shutil.rmtree(tmp)  # kept after a failure: the database, the log and the run's configuration
    return status


if __name__ == "__main__":
    sys.exit(main())
