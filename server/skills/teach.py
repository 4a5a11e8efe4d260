"""Teach jobs: a kid's good drives -> dataset -> training -> evaluation -> promotion, on the server,
one job at a time (the machine is shared), with the progress a page can draw.

    jobs = TeachJobs(data_dir, on_promoted=...)   # async on_promoted(name) runs on the event loop afterwards
    job = jobs.start(owner="kid-7f3a", taught_by="Mia", trick="park", name="mia_park")
    jobs.get(job.id).view()   # {"phase", "fraction", "losses": [[step, train, val], ...], "eval", "decision"}

Phases: waiting -> dataset -> training (fraction and a loss point per check) -> evaluating (the
candidate on TEACH_EVAL_EPISODES seeded starts in the simulator, each car behind its supervisor) ->
deciding (promotion.decide: only if better, no new safety events) -> done | failed. The evaluation's
trajectories are kept for the page ("the car tries on its own"). The training stack (torch) is
imported by the worker only, so a server that never teaches never loads it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
import queue
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

TEACH_EVAL_EPISODES = 20  # enough starts to tell a trick learned from one that is not, in a few seconds
TEACH_MAX_STEPS = 2000
TEACH_MAX_SECONDS = 60.0
MIN_GOOD_DRIVES = 3  # fewer good drives than this teach nothing a kid would call learned
KEEP_PATHS = 12  # evaluated trajectories shown on the page
JOBS_KEPT = 50
DEPLOY_WAIT_S = 30.0  # sending the new skill to every car; each car answers within INSTALL_TIMEOUT_S


@dataclass
class TeachJob:
    id: str
    owner: str  # the kid id whose drives teach it ("" for the teacher's expert demos)
    taught_by: str
    trick: str
    name: str
    source: str = "drives"  # drives | expert
    phase: str = "waiting"
    fraction: float = 0.0
    losses: list[list[float | None]] = field(default_factory=list)
    dataset: str = ""
    version: str = ""
    level: int | None = None  # the level the new block opens at
    eval: dict | None = None
    decision: dict | None = None
    error: str = ""
    kid_text: str = ""
    started: float = field(default_factory=time.time)
    finished: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def view(self) -> dict:
        with self.lock:
            return {"id": self.id, "name": self.name, "trick": self.trick, "taught_by": self.taught_by,
                    "source": self.source, "phase": self.phase, "fraction": round(self.fraction, 3),
                    "losses": list(self.losses), "dataset": self.dataset, "version": self.version, "level": self.level, "eval": self.eval,
                    "decision": self.decision, "error": self.error, "kid_text": self.kid_text,
                    "done": self.phase in ("done", "failed")}


class TeachJobs:
    def __init__(self, data_dir: str | Path, *, on_promoted: Callable[[str], Awaitable[None]] | None = None,
                 eval_episodes: int = TEACH_EVAL_EPISODES, max_steps: int = TEACH_MAX_STEPS,
                 max_seconds: float = TEACH_MAX_SECONDS) -> None:
        self.data_dir = Path(data_dir)
        self.on_promoted = on_promoted
        self.eval_episodes, self.max_steps, self.max_seconds = eval_episodes, max_steps, max_seconds
        self.jobs: dict[str, TeachJob] = {}
        # One daemon worker: a server that stops never waits for a half-trained skill (a pool's threads
        # are joined at exit); the job is simply not finished.
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._serve, name="teach", daemon=True)
        self._worker.start()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _serve(self) -> None:
        while True:
            fn, future = self._work.get()
            if fn is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to whoever waits
                future.set_exception(exc)

    def submit(self, fn: Callable[[], object]) -> Future:
        """Run fn on the teach worker, after the jobs before it (the machine is shared)."""
        future: Future = Future()
        self._work.put((fn, future))
        return future

    async def run(self, fn: Callable[[], object]) -> object:
        return await asyncio.wrap_future(self.submit(fn))

    def start(self, *, owner: str, taught_by: str, trick: str, name: str, source: str = "drives",
              demos: int = 10) -> TeachJob:
        from learning.store import check_name  # light: no torch

        check_name(name)
        self._loop = asyncio.get_running_loop()
        job = TeachJob(secrets.token_hex(6), owner, taught_by, trick, name, source)
        self.jobs[job.id] = job
        for old in list(self.jobs)[:-JOBS_KEPT]:
            if self.jobs[old].phase in ("done", "failed"):
                del self.jobs[old]
        self.submit(lambda: self._run(job, demos))
        return job

    def get(self, job_id: str) -> TeachJob | None:
        return self.jobs.get(job_id)

    def busy(self) -> bool:
        return any(j.phase not in ("done", "failed") for j in self.jobs.values())

    def _set(self, job: TeachJob, **fields) -> None:
        with job.lock:
            for k, v in fields.items():
                setattr(job, k, v)

    def _run(self, job: TeachJob, demos: int) -> None:
        try:
            self._teach(job, demos)
        except Exception as exc:  # a failed job says why; the server goes on
            log.exception("teach job %s (%s) failed", job.id, job.name)
            self._set(job, phase="failed", error=str(exc), finished=time.time(),
                      kid_text="Something went wrong while the car was learning. Ask your teacher to look.")

    def _teach(self, job: TeachJob, demos: int) -> None:
        from learning.evaluate import EvalConfig
        from learning.service import SkillLab
        from learning.store import SkillStoreError
        from learning.train import Budget

        lab = SkillLab(self.data_dir, eval_config=EvalConfig(episodes=self.eval_episodes))
        self._set(job, phase="dataset")
        try:
            if job.source == "expert":
                dataset = lab.record_demos(job.trick, episodes=demos)
            else:
                dataset = lab.dataset_from_drives(job.owner, job.trick, min_good=MIN_GOOD_DRIVES)
        except SkillStoreError as exc:
            self._set(job, phase="failed", error=str(exc), finished=time.time(),
                      kid_text=f"Drive the trick all the way a few more times first (I need {MIN_GOOD_DRIVES} good drives).")
            return
        self._set(job, dataset=dataset, phase="training")

        def progress(p) -> None:
            with job.lock:
                job.fraction = p.fraction
                job.losses.append([p.step, round(p.train_loss, 5), None if p.val_loss is None else round(p.val_loss, 5)])

        version = lab.train(job.name, job.trick, dataset, taught_by=job.taught_by, progress=progress,
                            budget=Budget(max_steps=self.max_steps, max_seconds=self.max_seconds))
        self._set(job, version=version.id, fraction=1.0, phase="evaluating", level=lab.store.get(job.name).level)
        report = lab.evaluate(job.name, version.id)
        paths = [{"seed": e["seed"], "success": e["success"], "outcome": e["outcome"], "path": e["path"]}
                 for e in report.per_episode[:KEEP_PATHS]]
        self._set(job, eval={"success_rate": report.success_rate, "successes": report.successes,
                             "episodes": report.episodes, "collisions": report.collisions,
                             "safety_events": report.safety_events, "mean_time_s": report.mean_time_s,
                             "min_clearance_cm": report.min_clearance_cm, "paths": paths}, phase="deciding")
        decision = lab.promote(job.name, version.id)
        decided = {"promote": decision.promote, "reason": decision.reason, "kid_text": decision.kid_text}
        self._set(job, decision=decided, kid_text=decision.kid_text, phase="deploying" if decision.promote else "done")
        if decision.promote and self.on_promoted and self._loop is not None:
            # the page sees "done" once the cars have it: wait for the deployment (bounded)
            try:
                asyncio.run_coroutine_threadsafe(self.on_promoted(job.name), self._loop).result(DEPLOY_WAIT_S)
            except Exception as exc:  # the skill is promoted; the cars get it when they next connect
                log.warning("teach job %s: deploying %s: %r", job.id, job.name, exc)
        self._set(job, phase="done", finished=time.time())

    def close(self) -> None:
        self._work.put((None, None))
