"""API benchmark (the ``api`` part of `alertstream bench`): `GET /api/v1/alerts` latency with a
million alerts in PostgreSQL.

The alerts are bulk-loaded with COPY into a fresh schema (not through Kafka: this measures the
API and its indexes, not the store): the migration's indexes are dropped for the load and
re-created from their own definitions afterwards, then the table is analysed. `alertstream api`
runs as its own process (as deployed); one keep-alive client sends sequential requests, and each
figure is the p50/p99 of ``requests`` requests after ``warmup``, client-measured (HTTP included).

Figures (ms): ``tenant_severity_first_page`` (a tenant key, ``severity=critical``: the target,
p99 < 50 ms), ``admin_first_page`` (no filter), ``tenant_rule_first_page``, ``fingerprint``,
``tenant_one_day``, ``text``, ``receiver``, ``tenant_page_21`` (a cursor 20 pages deep).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from alertstream.api.keys import create_key
from alertstream.consumers.db import create_schema, drop_schema
from alertstream.local_stack import die_with_parent, free_port

TENANTS = [f"tenant-{n:02d}" for n in range(50)]
RULES = [f"rule-{n:02d}" for n in range(20)]
SEVERITIES = ["critical"] * 1 + ["warning"] * 3 + ["info"] * 6
WORDS = ["cpu", "memory", "latency", "disk", "denial", "payer", "cache", "pool", "queue", "error"]
_COLUMNS = (
    "alert_id, tenant, rule_id, rule_version, status, severity, fingerprint, entity, summary, details, labels, value,"
    " threshold, occurrence_count, suppressed_count, first_seen, last_seen, emitted_at, event_ids, routes,"
    " rate_limited, reason"
)
ROUTES = ['[{"receiver": "ops-webhook", "channel": "webhook"}]', '[{"receiver": "ops-slack", "channel": "slack"}]']


def _rows(count: int, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    end = datetime.now(UTC)
    span = 30 * 86_400
    for i in range(count):
        last_seen = end - timedelta(seconds=span * (1 - i / count))
        rule = RULES[rng.randrange(len(RULES))]
        word = WORDS[rng.randrange(len(WORDS))]
        host = f"host-{rng.randrange(5000)}"
        rare = " zanzibar" if i % 10_000 == 0 else ""
        yield (
            f"bench-{i:08d}",
            TENANTS[rng.randrange(len(TENANTS))],
            rule,
            3,
            "resolved" if rng.random() < 0.2 else "firing",
            SEVERITIES[rng.randrange(len(SEVERITIES))],
            f"fp-{rng.randrange(100_000):06d}",
            host,
            f"[warning] {rule}: {word} on {host}{rare} is {rng.random() * 100:.1f}",
            '{"reason": "new", "operator": ">"}',
            '{"env": "prod"}',
            rng.random() * 100,
            90.0,
            1 + rng.randrange(5),
            rng.randrange(3),
            last_seen - timedelta(seconds=60),
            last_seen,
            last_seen + timedelta(milliseconds=20),
            '["e1", "e2"]',
            ROUTES[i % 2],
            False,
            "new",
        )


def load(dsn: str, count: int) -> float:
    """COPY ``count`` alerts (indexes dropped during the load, re-created after); returns seconds."""
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'alerts'"
            " AND indexname <> 'alerts_pkey'"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        with conn.cursor() as cur, cur.copy(f"COPY alerts ({_COLUMNS}) FROM STDIN") as copy:
            for row in _rows(count):
                copy.write_row(row)
        conn.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            conn.execute(definition)
        conn.execute("ANALYZE alerts")
    return time.perf_counter() - started


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _measure(client: httpx.Client, path: str, params: dict[str, Any], requests: int, warmup: int) -> list[float]:
    out = []
    for n in range(warmup + requests):
        started = time.perf_counter()
        r = client.get(path, params=params)
        elapsed = (time.perf_counter() - started) * 1000
        if r.status_code != 200:
            raise RuntimeError(f"{path} {params}: {r.status_code} {r.text[:200]}")
        if n >= warmup:
            out.append(elapsed)
    return out


def run_api_bench(database_url: str, alerts: int = 1_000_000, requests: int = 300, warmup: int = 20) -> dict[str, Any]:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a log line per request would be measured too
    schema = f"bench_api_{uuid.uuid4().hex[:8]}"
    dsn = create_schema(database_url, schema)
    proc: subprocess.Popen[bytes] | None = None
    try:
        load_seconds = load(dsn, alerts)
        tenant_key = create_key(dsn, TENANTS[7], "bench").key
        admin_key = create_key(dsn, None, "bench admin").key
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT fingerprint FROM alerts WHERE tenant = %s LIMIT 1", (TENANTS[7],)).fetchone()
        fingerprint = row[0] if row else "fp-000000"
        port = free_port()
        env = {
            **os.environ,
            "ALERTSTREAM_DATABASE_URL": dsn,
            "ALERTSTREAM_API_HOST": "127.0.0.1",
            "ALERTSTREAM_API_PORT": str(port),
            "ALERTSTREAM_API_RATE_LIMIT": "100000",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "alertstream", "api"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGTERM),
        )
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc)
        figures: dict[str, Any] = {"alerts": alerts, "copy_load_and_index_s": round(load_seconds, 1)}
        day = datetime.now(UTC) - timedelta(days=10)
        with (
            httpx.Client(base_url=base, headers={"X-API-Key": tenant_key}, timeout=30) as tenant,
            httpx.Client(base_url=base, headers={"X-API-Key": admin_key}, timeout=30) as admin,
        ):
            cases: list[tuple[str, httpx.Client, dict[str, Any]]] = [
                ("tenant_severity_first_page", tenant, {"severity": "critical"}),
                ("admin_first_page", admin, {}),
                ("tenant_rule_first_page", tenant, {"rule": RULES[3]}),
                ("fingerprint", admin, {"fingerprint": fingerprint}),
                ("tenant_one_day", tenant, {"since": day.isoformat(), "until": (day + timedelta(days=1)).isoformat()}),
                ("text", admin, {"text": "zanzibar"}),
                ("receiver", tenant, {"receiver": "ops-slack"}),
                ("tenant_page_21", tenant, {"cursor": _cursor_after(tenant, 20)}),
            ]
            for name, client, params in cases:
                p50, p99 = _percentiles(_measure(client, "/api/v1/alerts", {"limit": 50, **params}, requests, warmup))
                figures[f"{name}_p50_ms"] = round(p50, 2)
                figures[f"{name}_p99_ms"] = round(p99, 2)
        figures["requests_per_figure"] = requests
        figures["target_met"] = figures["tenant_severity_first_page_p99_ms"] < 50
        return figures
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        drop_schema(database_url, schema)


def _cursor_after(client: httpx.Client, pages: int) -> str:
    cursor: str | None = None
    for _ in range(pages):
        body = client.get("/api/v1/alerts", params={"limit": 50, **({"cursor": cursor} if cursor else {})}).json()
        cursor = body["next_cursor"]
        if cursor is None:
            raise RuntimeError("fewer pages than the benchmark pages through")
    assert cursor is not None
    return cursor


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"alertstream api exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("alertstream api did not become ready")
