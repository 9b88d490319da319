"""Scheduled jobs: APScheduler wiring and one module per job; each job calls service functions only."""
from . import (
    build_walkthrough_lists,
    close_finished_lists,
    collect_bad_ratings,
    default_ratings,
    deliver_events,
    export_opendata,
    flag_due_soon,
    flag_overdue,
    purge_expired,
    refresh_stats,
)

# In the order one scheduler tick runs them: new items first, then deadlines, then lists that are done; then
# housekeeping (cheap each tick: it only looks at what expired since the last run).
JOBS = {m.NAME: m.run for m in (default_ratings, collect_bad_ratings, build_walkthrough_lists, flag_overdue,
                                close_finished_lists, purge_expired, flag_due_soon, deliver_events)}
# Jobs on an interval of their own (the config key), in an executor of their own: a slow receiver never delays
# the other jobs, nor they the delivery.
OWN_INTERVAL = {deliver_events.NAME: "DELIVERY_INTERVAL_SECONDS"}

# Once a day, at (hour, minute) Asia/Shanghai: after midnight, once the day before is final.
DAILY = {refresh_stats.NAME: (refresh_stats.run, (0, 20)), export_opendata.NAME: (export_opendata.run, (0, 40))}
