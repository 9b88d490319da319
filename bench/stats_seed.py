"""Seeds a year of ratings (5% 差评) across 20 halls straight into a migrated SQLite file, as fast as sqlite3 allows."""
import random
import sqlite3
import sys
from datetime import UTC, date, datetime, timedelta

path, total = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(path)
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA synchronous=OFF")
random.seed(20261125)
# 15 more street halls under the district centre, 20 halls in all, each with 12 windows.
for i in range(15):
    code = f"HZ-XC-S{i:02d}"
    con.execute("INSERT OR IGNORE INTO halls(code, name, level, parent_code, address, default_rating_enabled, "
                "created_at, updated_at) VALUES (?, ?, 'street', 'HZ-XC', NULL, 1, '2025-01-01 00:00:00', "
                "'2025-01-01 00:00:00')", (code, f"压测街道{i:02d}便民服务中心"))
halls = [r[0] for r in con.execute("SELECT code FROM halls ORDER BY code")]
for hall in halls:
    for w in range(1, 13):
        con.execute("INSERT OR IGNORE INTO windows(hall_code, code, name) VALUES (?, ?, ?)",
                    (hall, f"{w:02d}", f"{w}号窗口"))
items = [r[0] for r in con.execute("SELECT code FROM service_items")]
today = datetime.now(UTC).astimezone().date()
first = today - timedelta(days=365)
scores = [5, 4, 3, 2, 1]
weights = [62, 23, 10, 3, 2]  # 5 % 差评


def rows():
    for n in range(total):
        day = first + timedelta(days=n * 365 // total)
        score = random.choices(scores, weights)[0]
        moment = datetime(day.year, day.month, day.day, random.randrange(0, 10), random.randrange(60))
        yield (random.choice(halls), random.choice(items), f"{random.randrange(1, 13):02d}",
               f"S{random.randrange(20):02d}", score, random.choice(("miniprogram", "device", "qrcode")),
               1, 0, 1, moment.strftime("%Y-%m-%d %H:%M:%S.000000"), day.isoformat())


con.executemany("INSERT INTO ratings(hall_code, item_code, window_code, staff_no, score, channel, anonymous, "
                "is_default, effective, created_at, rated_on) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows())
con.commit()
bad = con.execute("SELECT avg(score <= 2) FROM ratings").fetchone()[0]
print(f"seeded {total} ratings over {len(halls)} halls from {first} to {today - timedelta(days=1)}; 差评 {bad:.1%}")
assert date.fromisoformat(first.isoformat())
