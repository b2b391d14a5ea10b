"""Reads a text/event-stream response on a thread, so a test can wait for an event with a
deadline (a blocking read would hang the test when the event never comes)."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    event: str
    data: dict[str, Any]
    id: str | None


@dataclass
class Stream:
    status: int
    events: queue.Queue[Event | None] = field(default_factory=queue.Queue)
    seen: list[Event] = field(default_factory=list)

    def until(self, done: Callable[[Event], bool], within: float = 15.0) -> list[Event]:
        """Every event up to and including the first for which ``done`` holds (or fail)."""
        deadline = time.monotonic() + within
        got: list[Event] = []
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no such event in {within}s; got {[(e.event, e.data) for e in got]}"
            try:
                item = self.events.get(timeout=left)
            except queue.Empty:
                continue
            assert item is not None, f"the stream ended; got {[(e.event, e.data) for e in got]}"
            got.append(item)
            self.seen.append(item)
            if done(item):
                return got


@contextmanager
def live_stream(url: str, key: str, path: str = "/api/v1/live") -> Iterator[Stream]:
    client = httpx.Client(base_url=url, timeout=httpx.Timeout(30, read=60))
    with client, client.stream("GET", path, headers={"Authorization": f"Bearer {key}"}) as response:
        stream = Stream(response.status_code)
        if response.status_code != 200:
            response.read()
            yield stream
            return

        def read() -> None:
            event, data, last_id = "message", [], None
            try:
                for line in response.iter_lines():
                    if line == "":
                        if data:
                            stream.events.put(Event(event, json.loads("\n".join(data)), last_id))
                        event, data = "message", []
                    elif line.startswith(":"):
                        continue
                    else:
                        name, _, value = line.partition(":")
                        value = value.removeprefix(" ")
                        if name == "event":
                            event = value
                        elif name == "data":
                            data.append(value)
                        elif name == "id":
                            last_id = value
            except (httpx.HTTPError, RuntimeError):
                pass
            stream.events.put(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        yield stream
