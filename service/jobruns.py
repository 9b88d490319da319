"""Running a scheduled job as one recorded run: its work and its run row commit together, or it fails visibly."""
import logging
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import select, update

from models import JobRun, db

from . import scheduling
from .auth import Principal
from .database import writing
from .timeutil import now

log = logging.getLogger(__name__)


def _last_watermark(job: str) -> dict | None:
    return db.session.execute(select(JobRun.watermark).where(JobRun.job == job, JobRun.status == "ok")
                              .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1)).scalar()


# The lease a scheduler runs its jobs under: (holder, generation), set around a job by the scheduler; None for runs
# outside the lease (`flask jobs run`, tests), which are not fenced.
_lease: ContextVar[tuple[str, int] | None] = ContextVar("job_lease", default=None)


@contextmanager
def under_lease(holder: str, generation: int):
    """Run the jobs called inside under this lease generation: their work commits only while it is current."""
    token = _lease.set((holder, generation))
    try:
        yield
    finally:
        _lease.reset(token)


def _fenced(run: JobRun, generation: int) -> None:
    run.status, run.finished_at = "fenced", now()
    run.error = (f"调度租约已由其他调度进程接管（本进程持有的租约代数 {generation} 已失效），"
                 "本次运行未提交任何工作，由当前持有租约的调度进程执行")
    db.session.commit()
    log.warning("job %s fenced: the lease generation %s is no longer current", run.job, generation)


def execute(job: str, work: Callable[..., tuple[dict, dict | None]], *, holder: str | None = None) -> JobRun:
    """work(now=, watermark=) → (counts, new watermark); it writes without committing, this function commits.

    Under a scheduler lease (under_lease) the run is fenced: it does not start when the lease generation is no
    longer current, and its work commits only if the generation is still current inside the work's own
    transaction, right before the commit; otherwise the work is rolled back and the run recorded as `fenced`.
    Work that commits by itself (the nightly rollup) or writes files (the open-data export) is guarded by the
    first check only."""
    lease = _lease.get()
    with writing():
        run = JobRun(job=job, holder=holder, generation=lease[1] if lease else None, started_at=now(),
                     status="running")
        db.session.add(run)
        if lease is not None and not scheduling.holds(*lease):
            _fenced(run, lease[1])
            return run
        db.session.commit()
        try:
            counts, watermark = work(now=run.started_at, watermark=_last_watermark(job))
            if lease is not None and not scheduling.holds(*lease):
                db.session.rollback()
                _fenced(run, lease[1])
                return run
            run.status, run.counts, run.watermark, run.finished_at = "ok", counts, watermark, now()
            db.session.commit()
            log.info("job %s ok: %s", job, counts)
        except Exception as exc:  # noqa: BLE001 - a failed run is recorded, then the next run tries again
            db.session.rollback()
            run.status, run.finished_at = "failed", now()
            run.error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
            db.session.commit()
            log.exception("job %s failed", job)
    return run


def mark_interrupted(holder: str) -> int:
    """Runs a dead scheduler left 'running' (killed mid-run: its work was rolled back with its transaction) are
    recorded as interrupted once another scheduler has taken over its expired lease, so GET /jobs does not show
    them running for ever. The next run does their work: its watermark comes from the last ok run. A scheduler that
    was only paused may still finish such a run later; the fence keeps its work out, and it records the run as
    fenced."""
    with writing():
        done = db.session.execute(update(JobRun).where(JobRun.holder == holder, JobRun.status == "running").values(
            status="interrupted", finished_at=now(), error="调度进程中断，本次运行未完成（工作已回滚，由下次运行重做）")
            .execution_options(synchronize_session=False)).rowcount
        db.session.commit()
    if done:
        log.warning("marked %d run(s) of scheduler %s as interrupted", done, holder)
    return done


def recent(principal: Principal, *, job: str | None, limit: int) -> list[JobRun]:
    principal.require("supervisor")
    stmt = select(JobRun)
    if job:
        stmt = stmt.where(JobRun.job == job)
    return list(db.session.execute(stmt.order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)).scalars())
