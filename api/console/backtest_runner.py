"""Backtest jobs off the request path: `alertstream backtest --json` as a child process.

The API stage may not import the evaluator (``streams``) nor the composition root, so it runs the
command the operators run (docs/backtest.md), with the proposed config (and the baseline, when
given) written to a private temporary directory. Bounds, per API process: ``RUNNING`` job at a
time, at most ``QUEUED`` more waiting (beyond that the request is refused with 429), each killed
after ``TIMEOUT_SECONDS``; the child also gets a CPU-time limit (``RLIMIT_CPU``), which the kernel
enforces even if this process dies first. The child inherits the process's environment (broker,
registry, topic prefix) without the database URL, which it does not need.

Jobs live in ``backtest_jobs`` (migration 006), so any API process can answer for any job; a job
whose process stopped before finishing is reported failed (``abandoned``) once it is overdue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import resource
import shutil
import signal
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg_pool import AsyncConnectionPool

from alertstream.api.console.models import BacktestJob

log = logging.getLogger(__name__)

RUNNING = 1
QUEUED = 2
TIMEOUT_SECONDS = 300.0
CPU_SECONDS = 600
MAX_REPORT_BYTES = 16 * 1024 * 1024
KEEP = timedelta(days=7)
#: a job not finished this long after it was created ran in a process that is gone
OVERDUE = timedelta(seconds=(RUNNING + QUEUED) * TIMEOUT_SECONDS + 120)
_COLUMNS = (
    "job_id, requested_by, state, window_spec, created_at, started_at, finished_at, error, report,"
    " report_html IS NOT NULL AS has_html"
)


@dataclass(frozen=True)
class JobSpec:
    """What to run: the window (resolved to instants), the configs' text and the tenant."""

    start: datetime
    end: datetime
    warmup: str
    tenant: str | None
    config: str
    baseline: str | None
    #: matcher sets of the silences tried with the proposed config
    silences: tuple[str, ...] = ()

    def window(self) -> dict[str, Any]:
        out = {"from": _iso(self.start), "to": _iso(self.end), "tenant": self.tenant, "warmup": self.warmup}
        return {**out, "silences": list(self.silences)} if self.silences else out

    def args(self, folder: Path) -> list[str]:
        out = ["--config", str(folder / "proposed.yaml"), "--from", _iso(self.start), "--to", _iso(self.end)]
        if self.baseline is not None:
            out += ["--baseline", str(folder / "baseline.yaml")]
        if self.tenant is not None:
            out += ["--tenant", self.tenant]
        for matchers in self.silences:
            out += ["--silence", matchers]
        return [*out, "--warmup", self.warmup, "--json", "--out", str(folder / "report.html")]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Busy(Exception):
    """RUNNING + QUEUED jobs are in this process already."""


class BacktestRunner:
    def __init__(self, pool: AsyncConnectionPool[Any], command: list[str] | None = None) -> None:
        self._pool = pool
        self._command = command or [sys.executable, "-m", "alertstream", "backtest"]
        self._slots = asyncio.Semaphore(RUNNING)
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._children: set[asyncio.subprocess.Process] = set()

    async def submit(self, spec: JobSpec, actor: str) -> BacktestJob:
        if len(self._jobs) >= RUNNING + QUEUED:
            raise Busy
        job_id = uuid.uuid4().hex
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("DELETE FROM backtest_jobs WHERE created_at < %s", (datetime.now(UTC) - KEEP,))
            await conn.execute(
                "INSERT INTO backtest_jobs (job_id, requested_by, state, window_spec)"
                " VALUES (%s, %s, 'queued', %s::jsonb)",
                (job_id, actor, json.dumps(spec.window())),
            )
            await conn.execute(
                "INSERT INTO audit_log (at, actor, action, details)"
                " VALUES (now(), %s, 'backtest_requested', %s::jsonb)",
                (actor, json.dumps({"job_id": job_id, **spec.window()})),
            )
        self._jobs[job_id] = asyncio.create_task(self._run(job_id, spec), name=f"backtest-{job_id}")
        found = await self.get(job_id)
        assert found is not None
        return found

    async def get(self, job_id: str) -> BacktestJob | None:
        async with self._pool.connection() as conn:
            row = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM backtest_jobs WHERE job_id = %s", (job_id,))  # noqa: S608
            ).fetchone()
            if row is None:
                return None
            unfinished = row["state"] in ("queued", "running") and job_id not in self._jobs
            if unfinished and datetime.now(UTC) - row["created_at"] > OVERDUE:
                await self._finish(job_id, "failed", error="abandoned: the API process running it stopped")
                return await self.get(job_id)
        return _job(row)

    async def recent(self, limit: int = 20) -> list[BacktestJob]:
        async with self._pool.connection() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM backtest_jobs ORDER BY created_at DESC LIMIT %s",  # noqa: S608
                    (limit,),
                )
            ).fetchall()
        return [_job(r) for r in rows]

    async def html(self, job_id: str) -> str | None:
        async with self._pool.connection() as conn:
            row = await (
                await conn.execute("SELECT report_html FROM backtest_jobs WHERE job_id = %s", (job_id,))
            ).fetchone()
        return row["report_html"] if row else None

    async def close(self) -> None:
        """Stop every child and mark this process's unfinished jobs failed (the API is stopping)."""
        for child in list(self._children):
            _kill(child)
        for job_id, task in list(self._jobs.items()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            with contextlib.suppress(Exception):
                await self._finish(job_id, "failed", error="stopped: the API process shut down")
        self._jobs.clear()

    async def _run(self, job_id: str, spec: JobSpec) -> None:
        folder = Path(tempfile.mkdtemp(prefix="alertstream-backtest-"))
        try:
            async with self._slots:
                await self._mark_running(job_id)
                state, error, report, html = await self._child(spec, folder)
                await self._finish(job_id, state, error=error, report=report, html=html)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("backtest job %s failed", job_id)
            with contextlib.suppress(Exception):
                await self._finish(job_id, "failed", error="internal error running the backtest (logged)")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            self._jobs.pop(job_id, None)

    async def _child(self, spec: JobSpec, folder: Path) -> tuple[str, str | None, Any, str | None]:
        (folder / "proposed.yaml").write_text(spec.config, encoding="utf-8")
        if spec.baseline is not None:
            (folder / "baseline.yaml").write_text(spec.baseline, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "ALERTSTREAM_DATABASE_URL"}
        proc = await asyncio.create_subprocess_exec(
            *self._command,
            *spec.args(folder),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=folder,
            env=env,
            start_new_session=True,  # its own process group: a timeout kills it and what it started
        )
        self._children.add(proc)
        try:
            with contextlib.suppress(OSError, ValueError):
                resource.prlimit(proc.pid, resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
            try:
                out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_SECONDS)
            except TimeoutError:
                _kill(proc)
                await proc.wait()
                return "failed", f"timed out after {TIMEOUT_SECONDS:.0f} s", None, None
        finally:
            self._children.discard(proc)
            if proc.returncode is None:
                _kill(proc)
        text = err.decode("utf-8", "replace").replace(str(folder) + "/", "")
        if proc.returncode != 0:
            tail = "\n".join(text.strip().splitlines()[-12:])[-2000:]
            return "failed", f"alertstream backtest exited with {proc.returncode}: {tail}", None, None
        if len(out) > MAX_REPORT_BYTES:
            return "failed", f"the report is over {MAX_REPORT_BYTES} bytes", None, None
        try:
            report = json.loads(out)
        except ValueError:
            return "failed", "alertstream backtest printed no JSON report", None, None
        page = folder / "report.html"
        html = page.read_text(encoding="utf-8") if page.is_file() and page.stat().st_size <= MAX_REPORT_BYTES else None
        return "done", None, report, html

    async def _mark_running(self, job_id: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE backtest_jobs SET state = 'running', started_at = now() WHERE job_id = %s", (job_id,)
            )

    async def _finish(
        self, job_id: str, state: str, *, error: str | None = None, report: Any = None, html: str | None = None
    ) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE backtest_jobs SET state = %s, finished_at = now(), error = %s, report = %s::jsonb,"
                " report_html = %s WHERE job_id = %s AND state IN ('queued', 'running')",
                (state, error, json.dumps(report) if report is not None else None, html, job_id),
            )


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _job(r: dict[str, Any]) -> BacktestJob:
    return BacktestJob(
        job_id=r["job_id"],
        state=r["state"],
        requested_by=r["requested_by"],
        created_at=r["created_at"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
        window=r["window_spec"] if isinstance(r["window_spec"], dict) else {},
        error=r["error"],
        report=r["report"] if isinstance(r["report"], dict) else None,
        has_html=bool(r["has_html"]),
    )
