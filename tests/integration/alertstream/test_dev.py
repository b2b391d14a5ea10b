"""`alertstream dev` end to end: two at once, each delivering to its own demo sink on free ports, a
status view without third-party log lines, and Ctrl-C leaving no process and no temp dir behind
(the test cleans up the same way when it fails)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from tests.process_listing import describe, still_running

pytestmark = pytest.mark.integration

CHANNELS = ("webhook", "slack", "pagerduty", "email")
SINK = re.compile(r"demo-sink\s+webhook=(\d+) \(\+(\d+) refused.*slack=(\d+) pagerduty=(\d+) email=(\d+)")
SINK_PORTS = re.compile(r"\[dev\] demo sink http://127\.0\.0\.1:(\d+) smtp 127\.0\.0\.1:(\d+)")
#: a line of Python logging's format (cli.main's basicConfig): what must not reach the status view
MAIL_LOG = re.compile(r"\bmail\.log:")  # aiosmtpd's logger, the one that flooded the terminal
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")
CONSOLE = re.compile(r"\[dev\] console\s+(http://127\.0\.0\.1:\d+/)\s+demo admin key (ask_\S+)")


@dataclass
class Dev:
    """One `alertstream dev` with its own TMPDIR; its stdout is read on a thread."""

    tmp: Path
    proc: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)
    descendants: set[int] = field(default_factory=set)
    reader: threading.Thread | None = None
    console_at: float | None = None  # when dev printed the console line
    console_alerts_at: float | None = None  # when the console's API first listed a demo alert

    def start(self) -> Dev:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTSTREAM_")}
        env["TMPDIR"] = str(self.tmp)  # every temp dir of dev and its stack lands here
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "alertstream", "dev"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,  # like a terminal: Ctrl-C goes to the whole foreground group
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def watch(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(psutil.NoSuchProcess):
            self.descendants |= {c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)}

    def delivered(self) -> dict[str, int]:
        found = SINK.findall(self.output)
        if not found:
            return {}
        return dict(zip(("webhook", "refused", *CHANNELS[1:]), map(int, found[-1]), strict=True))

    def check_console(self) -> None:
        """Note when the console URL is printed and when, with its demo key, alerts are listed."""
        found = CONSOLE.search(self.output)
        if found is None or self.console_alerts_at is not None:
            return
        now = time.monotonic()
        self.console_at = self.console_at or now
        url, key = found.groups()
        with contextlib.suppress(httpx.HTTPError):
            r = httpx.get(f"{url}api/v1/alerts", headers={"Authorization": f"Bearer {key}"}, timeout=5)
            if r.status_code == 200 and r.json()["items"]:
                self.console_alerts_at = now

    def sink_ports(self) -> tuple[int, int] | None:
        found = SINK_PORTS.search(self.output)
        return (int(found.group(1)), int(found.group(2))) if found else None

    def stop(self) -> tuple[int | None, str]:
        """Ctrl-C; SIGKILL the group if it does not stop in time. Returns (exit code, the rest of stdout)."""
        assert self.proc is not None
        before = len(self.lines)
        if self.proc.poll() is None:
            self.watch()
            os.killpg(self.proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.reader is not None:
            self.reader.join(10)  # reads to the end of dev's stdout
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode, "".join(self.lines[before:])

    def kill_leftovers(self) -> list[int]:
        alive = still_running(sorted(self.descendants), timeout=5)
        for pid in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()
        return alive


def test_two_devs_at_once_each_deliver_to_their_own_sink_and_stop_cleanly() -> None:
    with tempfile.TemporaryDirectory(prefix="alertstream-test-dev-") as root:
        Path(root).chmod(0o755)  # as root, the local PostgreSQL runs as an unprivileged user
        devs = [Dev(Path(root) / f"dev{i}") for i in range(2)]
        for dev in devs:
            dev.tmp.mkdir(mode=0o755)
        leftovers: list[int] = []
        try:
            for dev in devs:
                dev.start()
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                for dev in devs:
                    dev.watch()
                    assert dev.proc is not None
                    assert dev.proc.poll() is None, dev.output
                    dev.check_console()
                delivered = all(all(d.delivered().get(ch, 0) > 0 for ch in CHANNELS) for d in devs)
                if delivered and all(d.console_alerts_at is not None for d in devs):
                    break
                time.sleep(0.5)
            for dev in devs:
                out = dev.output
                assert "[dev] ready:" in out, out
                assert re.search(r"\[dev\] broker\s+\w", out), out
                assert dev.descendants, "dev started no child processes"
                # the console: its URL and a demo key printed, the demo's alerts listed within 30 s
                found = CONSOLE.search(out)
                assert found, out
                assert dev.console_at is not None
                assert dev.console_alerts_at is not None, "the console's API listed no alert"
                assert dev.console_alerts_at - dev.console_at <= 30, dev.console_alerts_at - dev.console_at
                page = httpx.get(found.group(1), timeout=5)
                assert page.status_code == 200
                assert "text/html" in page.headers["content-type"]
                # alerts went all the way: worker -> every channel's deliver group -> this dev's own
                # sink, whose signature check accepted every webhook (another dev's would refuse them)
                delivered = dev.delivered()
                assert delivered, out
                assert all(delivered[ch] > 0 for ch in CHANNELS), out
                assert delivered["refused"] == 0, out
            ports = [dev.sink_ports() for dev in devs]
            assert None not in ports
            assert len({p for pair in ports if pair for p in pair}) == 4, f"sink ports collide: {ports}"
            for dev in devs:
                code, rest = dev.stop()
                assert code == 0, dev.output
                assert "[dev] stopped cleanly" in rest, dev.output
                # the status view holds dev's own lines only: library logs go to the log dir
                noisy = [line for line in dev.lines if MAIL_LOG.search(line) or LOG_LINE.match(line)]
                assert noisy == [], "".join(noisy[:20])
            for dev in devs:
                alive = still_running(sorted(dev.descendants), timeout=5)
                assert alive == [], f"left behind: {describe(alive)}"
        finally:
            for dev in devs:
                if dev.proc is not None and dev.proc.poll() is None:
                    dev.stop()
                leftovers += dev.kill_leftovers()
        assert leftovers == [], "killed orphans after the test"
        # the dev log dirs (kept for the user after a normal stop) are all that dev leaves in TMPDIR
        for dev in devs:
            left = sorted(p.name for p in dev.tmp.iterdir())
            assert len(left) == 1, left
            assert left[0].startswith("alertstream-dev-"), left
            assert {p.name for p in (dev.tmp / left[0]).glob("*.log")} >= {"dev.log", "worker.log"}
