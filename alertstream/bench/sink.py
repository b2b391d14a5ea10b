"""The benchmarks' HTTP sink, in its own process so it does not share a core with what is measured.

It answers every POST with 200 and records, per path:

* ``/hook`` — an alertstream webhook: the ``webhook-id`` header is the delivery id, the body's
  ``time_field`` (``emitted_at`` for the delivery bench, ``last_seen`` = the event's time for e2e)
  is when the measured path started;
* ``/am`` — an Alertmanager webhook: each alert of the group is one notification, its label ``n``
  the id and its annotation ``sent_ms`` the time it was POSTed to Alertmanager;
* anything else — counted only (the raw-POST ceiling).

The parent speaks one JSON line per command on stdin/stdout: ``stats``, ``latencies PATH``,
``reset``, ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Path:
    posts: int = 0
    ids: set[str] = field(default_factory=set)
    duplicates: int = 0
    latencies: list[float] = field(default_factory=list)
    first_ms: float = 0.0
    last_ms: float = 0.0

    def seen(self, item_id: str, sent_ms: float, now_ms: float) -> None:
        if item_id in self.ids:
            self.duplicates += 1
            return
        self.ids.add(item_id)
        self.latencies.append(now_ms - sent_ms)
        self.first_ms = self.first_ms or now_ms
        self.last_ms = now_ms


def sink_main(time_field: str = "emitted_at") -> None:
    from aiohttp import web

    paths: dict[str, _Path] = defaultdict(_Path)

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time() * 1000
        p = paths[request.path]
        p.posts += 1
        if request.path == "/hook":
            p.seen(request.headers.get("webhook-id", ""), float(json.loads(body).get(time_field) or 0), now)
        elif request.path == "/am":
            for alert in json.loads(body).get("alerts", []):
                p.seen(str(alert["labels"].get("n")), float(alert["annotations"].get("sent_ms", 0)), now)
        else:
            p.last_ms = now
        return web.Response(status=200)

    async def main() -> None:
        app = web.Application(handler_args={"access_log": None})
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        print(json.dumps(getattr(server, "sockets", [])[0].getsockname()[1]), flush=True)
        loop = asyncio.get_running_loop()
        while True:
            cmd, _, arg = (await loop.run_in_executor(None, sys.stdin.readline)).strip().partition(" ")
            answer: Any
            if cmd == "stats":
                answer = {
                    path: {
                        "posts": p.posts,
                        "distinct": len(p.ids),
                        "duplicates": p.duplicates,
                        "first_ms": p.first_ms,
                        "last_ms": p.last_ms,
                    }
                    for path, p in paths.items()
                }
            elif cmd == "latencies":
                answer = paths[arg].latencies
            elif cmd == "reset":
                paths.clear()
                answer = True
            else:
                break
            print(json.dumps(answer), flush=True)
        await runner.cleanup()

    asyncio.run(main())


class Sink:
    """The sink process; :meth:`ask` sends one command and returns its JSON answer."""

    def __init__(self, time_field: str = "emitted_at") -> None:
        code = f"from alertstream.bench.sink import sink_main; sink_main({time_field!r})"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.port: int = json.loads(self.proc.stdout.readline())

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ask(self, cmd: str) -> Any:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stats(self, path: str) -> dict[str, float]:
        empty = {"posts": 0, "distinct": 0, "duplicates": 0, "first_ms": 0.0, "last_ms": 0.0}
        got: dict[str, dict[str, float]] = self.ask("stats")
        return got.get(path, empty)

    def close(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.write("stop\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
