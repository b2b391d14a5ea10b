"""`alertstream dev`: the whole pipeline on one machine, stopped cleanly by Ctrl-C.

Starts the local stack (or uses ALERTSTREAM_KAFKA_BOOTSTRAP / ALERTSTREAM_DATABASE_URL), creates
the topics, starts every pipeline process that this build has (worker, one deliver group per
channel, store) as child processes, runs a demo producer and a tap that counts messages per
topic, and prints one status line per process every few seconds.

The terminal shows only that status view. Every log line goes to a file in the dev log dir (one
temporary directory per run, kept after exit and named in the status): ``<process>.log`` per
child, ``dev.log`` for this process's own libraries (the demo sink's aiosmtpd and aiohttp,
librdkafka). Nothing listens on a fixed port, so two ``dev`` (or ``dev`` beside the tests) run side
by side: the demo sink takes free ports and the pipeline runs on a copy of the config pointed at
them (``config.yaml`` in the log dir); each child's /metrics, /healthz and /readyz get a free
port too unless ALERTSTREAM_METRICS_PORT is set.

Shutdown order on Ctrl-C or SIGTERM: demo producer, pipeline processes (SIGTERM, then SIGKILL
after a grace period), tap, then the broker and the database. Children also carry
PR_SET_PDEATHSIG, so even a SIGKILL of this process leaves nothing behind.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import yaml
from confluent_kafka import Consumer

from alertstream.background import BackgroundLoop
from alertstream.consumers.signing import SECRET_PREFIX, SigningSecret
from alertstream.demo import DemoProducer
from alertstream.demo_sink import DemoSink
from alertstream.local_stack import LocalStack, die_with_parent, free_port
from alertstream.runtime.kafka_clients import consumer_config
from alertstream.runtime.settings import Settings
from alertstream.runtime.topic_admin import contract_names, create_topics
from alertstream.schemas.config import EXAMPLE_CONFIG, AlertstreamConfig, load_config
from alertstream.schemas.topics import CHANNELS

STATUS_EVERY = 5.0
STOP_GRACE = 15.0


@dataclass
class Child:
    name: str
    args: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    #: its ALERTSTREAM_METRICS_PORT when dev chose one (/metrics, /healthz, /readyz)
    metrics_port: int | None = None

    def status(self) -> str:
        if self.proc is None:
            return "not started"
        code = self.proc.poll()
        port = f"  :{self.metrics_port}" if self.metrics_port else ""
        if code is None:
            return f"running  pid {self.proc.pid:<7} up {time.monotonic() - self.started:>5.0f}s{port}  log {self.log}"
        return f"EXITED   code {code}  log {self.log}"


def pipeline_commands(available: set[str]) -> list[tuple[str, list[str]]]:
    """The processes of the pipeline that this build provides, in start order."""
    out: list[tuple[str, list[str]]] = []
    if "worker" in available:
        out.append(("worker", ["worker"]))
    if "deliver" in available:
        out += [(f"deliver-{ch}", ["deliver", ch]) for ch in CHANNELS]
    if "store" in available:
        out.append(("store", ["store"]))
    out += [("api", ["api"])] if "api" in available else []  # on a free port unless ALERTSTREAM_API_PORT is set
    return out


@dataclass
class Tap(BackgroundLoop):
    """Counts messages on every pipeline topic, so the status shows events flowing."""

    bootstrap: str
    topics: list[str]
    counts: Counter[str] = field(default_factory=Counter)

    thread_name = "tap"

    def _run(self) -> None:
        group = f"alertstream-dev-tap-{os.getpid()}"
        consumer = Consumer(consumer_config(self.bootstrap, group, logger=logging.getLogger("librdkafka")))
        consumer.subscribe(self.topics)
        try:
            while not self._stop.is_set():
                for msg in consumer.consume(1000, 0.5):
                    if msg.error() is None:
                        self.counts[msg.topic() or ""] += 1
        finally:
            consumer.close()


def run_dev(settings: Settings, available: set[str]) -> int:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        print(f"\n[dev] {signal.Signals(signum).name}: stopping …", flush=True)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    load_config(settings.config)  # a bad file is reported before anything starts
    logdir = Path(tempfile.mkdtemp(prefix="alertstream-dev-"))
    _log_to(logdir / "dev.log")
    children = [Child(name, args, logdir / f"{name}.log") for name, args in pipeline_commands(available)]
    if settings.metrics_port is None:  # the per-process default ports would collide with another dev
        for child in children:
            child.metrics_port = free_port()
    with LocalStack(
        settings.kafka_bootstrap, settings.database_url.get_secret_value() if settings.database_url else None
    ) as info:
        print(f"[dev] broker    {info.kafka_source:<17} {info.bootstrap}", flush=True)
        print(f"[dev] database  {info.database_source:<17} {_redact(info.database_url)}", flush=True)
        sink = DemoSink([])
        sink.start()  # free ports: the config's receivers are pointed at them below
        print(f"[dev] demo sink http://{sink.host}:{sink.http_port} smtp {sink.host}:{sink.smtp_port}", flush=True)
        config_file = _derived_config(Path(settings.config or EXAMPLE_CONFIG), sink, logdir / "config.yaml")
        config = load_config(config_file)
        result = create_topics(info.bootstrap, config, settings.topics)
        print(f"[dev] topics    {len(result.created)} created, {len(result.existing)} existed", flush=True)
        env = dict(os.environ)
        env.update(
            ALERTSTREAM_KAFKA_BOOTSTRAP=info.bootstrap,
            ALERTSTREAM_DATABASE_URL=info.database_url,
            ALERTSTREAM_CONFIG=str(config_file),
        )
        env.update(demo_receiver_env(config, env, sink.slack_url))
        sink.secrets = [SigningSecret.parse(env[n]) for r in config.receivers for n in r.secret_env if n in env]
        for child in children:
            _start(child, env)
        demo = DemoProducer(info.bootstrap, settings.topics)
        tap = Tap(info.bootstrap, [settings.topics.name(n) for n in contract_names(config)])
        demo.start()
        tap.start()
        print(f"[dev] ready: {len(children)} pipeline processes, demo producer, logs in {logdir}", flush=True)
        console = _console_line(children, settings, info.database_url)
        if console:
            print(console, flush=True)
        if not children:
            print("[dev] (this build has no worker/deliver/store commands yet: showing events flowing)", flush=True)
        try:
            while not stop.wait(STATUS_EVERY):
                _print_status(children, demo, tap, settings)
                print(f"  {'demo-sink':<18} {sink.summary()}", flush=True)
        finally:
            demo.stop()
            _stop_children(children)
            tap.stop()
            sink.stop()
    print(f"[dev] stopped cleanly (logs kept in {logdir})", flush=True)
    return 0


def _console_line(children: list[Child], settings: Settings, dsn: str) -> str | None:
    """Where the web console is, and a demo admin key for its login (created through the API-key
    code, hashed at rest like any other). The key goes to this terminal only, never into a URL."""
    api = next((c for c in children if c.name == "api"), None)
    if api is None:
        return None
    from alertstream.api.keys import create_key
    from alertstream.consumers.db import migrate

    migrate(dsn)  # the api child migrates too; the advisory lock makes the two one
    key = create_key(dsn, None, "make dev console (demo admin key)").key
    own_port = api.metrics_port is not None and "ALERTSTREAM_API_PORT" not in os.environ  # as _start chose it
    port = api.metrics_port if own_port else settings.api_port
    return f"[dev] console   http://127.0.0.1:{port}/   demo admin key {key}   (paste it at the login)"


def _log_to(file: Path) -> None:
    """Send every log record of this process to ``file``: the terminal is the status view only
    (third-party INFO lines, e.g. aiosmtpd's ``mail.log: … >> b'EHLO'``, flooded it)."""
    handler = logging.FileHandler(file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _derived_config(source: Path, sink: DemoSink, target: Path) -> Path:
    """``source`` with its demo-sink receivers pointed at the sink's ports, written to ``target``."""
    data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    target.write_text(
        f"# {source} with the demo sink's ports filled in by `alertstream dev`\n"
        + yaml.safe_dump(sink.point_config(data), sort_keys=False),
        encoding="utf-8",
    )
    return target


def demo_receiver_env(config: AlertstreamConfig, env: dict[str, str], slack_url: str) -> dict[str, str]:
    """Values for the receivers' secret variables that the environment does not set.

    The example config's receivers read their secrets from the environment; for dev they get a
    fresh signing secret (shared with the demo sink, which checks it), the sink's Slack URL and a
    placeholder PagerDuty routing key. Variables already set are left alone, so dev can also be
    pointed at real receivers.
    """
    out: dict[str, str] = {}
    for receiver in config.receivers:
        for name in receiver.secret_env:
            if not env.get(name):
                out[name] = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()
        if receiver.url_env and not env.get(receiver.url_env) and receiver.channel == "slack":
            out[receiver.url_env] = slack_url
        if receiver.routing_key_env and not env.get(receiver.routing_key_env):
            out[receiver.routing_key_env] = "dev-routing-key"
    return out


def _redact(url: str) -> str:
    """Hide a password in a database URL (user:pass@host)."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if at and ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{creds}{at}{host}"


def _start(child: Child, env: dict[str, str]) -> None:
    if child.metrics_port is not None:
        env = {**env, "ALERTSTREAM_METRICS_PORT": str(child.metrics_port)}
        if child.name == "api" and "ALERTSTREAM_API_PORT" not in os.environ:
            env["ALERTSTREAM_API_PORT"] = str(child.metrics_port)  # the API serves /metrics on its own port
    with child.log.open("wb") as log:
        child.proc = subprocess.Popen(
            [sys.executable, "-m", "alertstream", *child.args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=die_with_parent(signal.SIGTERM),
        )
    child.started = time.monotonic()


def _stop_children(children: list[Child]) -> None:
    running = [c for c in children if c.proc is not None and c.proc.poll() is None]
    for child in running:
        assert child.proc is not None
        child.proc.terminate()
    deadline = time.monotonic() + STOP_GRACE
    for child in running:
        assert child.proc is not None
        try:
            child.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"[dev] {child.name} did not stop in {STOP_GRACE:.0f}s: killed", flush=True)
            child.proc.kill()
            child.proc.wait(5)


def _print_status(children: list[Child], demo: DemoProducer, tap: Tap, settings: Settings) -> None:
    print(f"[dev] {time.strftime('%H:%M:%S')}", flush=True)
    for child in children:
        print(f"  {child.name:<18} {child.status()}", flush=True)
    print(f"  {'demo-producer':<18} running  {demo.sent} events sent", flush=True)
    counts = ", ".join(
        f"{topic.removeprefix(settings.topic_prefix)}={n}" for topic, n in sorted(tap.counts.items()) if n
    )
    print(f"  {'topics':<18} {counts or 'no messages yet'}", flush=True)
