"""Times GET requests one after another over a kept-alive connection; prints median and p90 in milliseconds."""
import http.client
import json
import statistics
import sys
import time


def timed(port: int, path: str, headers: dict, runs: int, warmup: int = 3) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    samples = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200:
            sys.exit(f"{path} answered {response.status}: {body[:300]!r}")
        if i >= warmup:
            samples.append(elapsed)
    conn.close()
    return samples


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered), 1),
            "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1], 1), "runs": len(ordered)}


if __name__ == "__main__":
    port, token, runs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    paths = sys.argv[4:]
    headers = {"Authorization": f"Bearer {token}"} if token != "-" else {}
    print(json.dumps({p: summary(timed(port, p, headers, runs)) for p in paths}, ensure_ascii=False))
