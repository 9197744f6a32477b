"""Async insights report runs: their status node walking a scripted plan, and their results
(docs/meta-api.md §4.2)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date, datetime

from cometly_elt.fake.meta.errors import GraphError
from cometly_elt.fake.meta.world import Account

# What a report run's status node says at each poll; the last step repeats.
RUN_PLANS: dict[str, list[tuple[str, int]]] = {
    "completes": [("Job Not Started", 0), ("Job Started", 0), ("Job Running", 50), ("Job Completed", 100)],
    # Meta's gotcha: the percentage reaches 100 before the job is done.
    "percent_100_while_running": [("Job Not Started", 0), ("Job Running", 100), ("Job Running", 100),
                                  ("Job Running", 100), ("Job Completed", 100)],
    # Failed jobs sit at 0 % forever.
    "fails": [("Job Not Started", 0), ("Job Started", 0), ("Job Failed", 0)],
    "skipped": [("Job Not Started", 0), ("Job Skipped", 0)],
    "never_finishes": [("Job Not Started", 0), ("Job Running", 42)],
}
_FINISHED = {"Job Completed", "Job Failed", "Job Skipped"}
FIRST_RUN_ID = 6035747473269


@dataclass
class ReportRun:
    id: str
    account: Account
    rows: list[dict]
    since: date
    until: date
    plan: list[tuple[str, int]]
    created: datetime
    polls: int = 0
    completed: datetime | None = None

    @property
    def state(self) -> tuple[str, int]:
        return self.plan[min(max(self.polls - 1, 0), len(self.plan) - 1)]

    def poll(self, now: datetime) -> dict:
        self.polls += 1
        status, percent = self.state
        if status == "Job Completed" and self.completed is None:
            self.completed = now
        values = {
            "id": self.id, "report_run_id": self.id, "account_id": self.account.digits,
            "time_ref": int(self.created.timestamp()), "async_status": status,
            "async_percent_completion": percent, "is_running": status not in _FINISHED,
            "date_start": self.since.isoformat(), "date_stop": self.until.isoformat(),
        }
        if self.completed is not None:
            values["time_completed"] = int(self.completed.timestamp())
        if status == "Job Failed":
            values.update(error_code=-2, error_subcode=2490547, error_message="Report Failed",
                          error_user_title="Report Failed", error_user_msg="Report failed, please try again later.")
        return values

    def results_error(self, headers: dict[str, str]) -> GraphError | None:
        """What reading the results answers before the job is completed (whatever its percentage)."""
        if self.state[0] == "Job Completed":
            return None
        return GraphError(2601, "Error accessing adreport job.", subcode=1815107, is_transient=True,
                          user_title="Loading Async Ads Report Failed",
                          user_msg="Sorry, the report cannot be loaded successfully. Please check if your job"
                                   " status is completed instead of failed or running before fetching the"
                                   " data.", headers=headers)


class ReportRuns:
    """The runs started so far, and the plans scripted for the next ones (then `completes` again)."""

    def __init__(self) -> None:
        self.runs: dict[str, ReportRun] = {}
        self.next_plans: deque[str] = deque()
        self._ids = iter(range(FIRST_RUN_ID, 10**15))

    def __contains__(self, run_id: str) -> bool:
        return run_id in self.runs

    def __getitem__(self, run_id: str) -> ReportRun:
        return self.runs[run_id]

    def start(self, account: Account, rows: list[dict], since: date, until: date, now: datetime) -> ReportRun:
        plan = self.next_plans.popleft() if self.next_plans else "completes"
        run = ReportRun(str(next(self._ids)), account, rows, since, until, RUN_PLANS[plan], now)
        self.runs[run.id] = run
        return run

    def script(self, plans: object) -> list[str]:
        """Queue plans for the next runs; ValueError if they are not a list of known plans."""
        if not isinstance(plans, list) or not all(p in RUN_PLANS for p in plans):
            raise ValueError(f"expected {{\"plans\": [...]}} with plans among {', '.join(RUN_PLANS)}")
        self.next_plans.extend(plans)
        return list(self.next_plans)
