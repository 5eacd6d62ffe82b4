"""Jobs on a cron schedule: `retrain --schedule` and `flask privacy expire --schedule`.

One loop for both (the learning loop imports the API, never the other way): APScheduler's
blocking scheduler runs the job at every time of a 5-field cron expression, in UTC, until SIGTERM
or SIGINT. A run that is still going when the next one is due is not doubled, runs missed while
the process was busy are run once (within an hour), and a failed run is logged and does not stop
the schedule. APScheduler is imported only when a schedule runs (the `api` and `learning` extras).
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable

logger = logging.getLogger(__name__)

EX_CONFIG = 2  # a bad cron expression: the exit code of a bad setting
MISFIRE_GRACE_SECONDS = 3600


def run_on_schedule(name: str, cron: str, job: Callable[[], object], setting: str) -> int:
    """Run `job` at every time of `cron` (UTC) until SIGTERM or SIGINT; the exit code.

    `name` names the job in the logs; `setting` is where `cron` came from, named when it is no
    cron expression (then nothing runs and the code is EX_CONFIG).
    """
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    try:
        trigger = CronTrigger.from_crontab(cron, timezone="UTC")
    except ValueError as error:
        logger.error("%s: %r is not a cron expression (%s)", setting, cron, error)
        return EX_CONFIG

    def guarded() -> None:
        try:
            job()
        except Exception:  # a failed run must not stop the schedule
            logger.exception("%s failed", name)

    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(
        guarded, trigger, id=name, max_instances=1, coalesce=True, misfire_grace_time=MISFIRE_GRACE_SECONDS
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: scheduler.shutdown(wait=False))
    logger.info("%s scheduled: %r (UTC)", name, cron)
    scheduler.start()
    logger.info("%s scheduler stopped", name)
    return 0
