"""Running a scheduled job as one recorded run: its work and its run row commit together, or it fails visibly."""
import logging
import traceback
from collections.abc import Callable

from sqlalchemy import select, update

from models import JobRun, db

from .auth import Principal
from .database import writing
from .timeutil import now

log = logging.getLogger(__name__)


def _last_watermark(job: str) -> dict | None:
    return db.session.execute(select(JobRun.watermark).where(JobRun.job == job, JobRun.status == "ok")
                              .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1)).scalar()


def execute(job: str, work: Callable[..., tuple[dict, dict | None]], *, holder: str | None = None) -> JobRun:
    """work(now=, watermark=) → (counts, new watermark); it writes without committing, this function commits."""
    with writing():
        run = JobRun(job=job, holder=holder, started_at=now(), status="running")
        db.session.add(run)
        db.session.commit()
        try:
            counts, watermark = work(now=run.started_at, watermark=_last_watermark(job))
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
    them running for ever. The next run does their work: its watermark comes from the last ok run."""
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
