"""Can this process reach its Kafka cluster with its connection settings? One answer, one line.

Every command checks this before it starts (:func:`check_kafka`): a broker that is down, a wrong
CA, a refused password are one clear line and exit code 1 (`alertstream.cli_setup`), not a
traceback after librdkafka's retries. The probe is an admin client's metadata request with the
process's connection (:mod:`alertstream.runtime.kafka_clients`); librdkafka's own log lines of the
attempt are kept out of the output and its errors are turned into a reason (:func:`reason`).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from alertstream.runtime.kafka_clients import admin_config, connection

#: How long a command waits for the broker to answer before giving up.
PROBE_TIMEOUT_S = 15.0


class _Collect(logging.Handler):
    """Keeps librdkafka's log lines of the probe (they say more than its error callback)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) < 200:
            self.lines.append(record.getMessage())


class KafkaUnavailable(Exception):
    """The cluster did not answer with this process's settings; ``str()`` is the one line to show."""


def reason(codes_and_texts: list[tuple[str, str]]) -> str:
    """The most telling cause among librdkafka's errors (name of the code, its text), as words a
    user can act on. Pure: tests feed it what librdkafka says."""
    names = {name for name, _ in codes_and_texts}
    text = " ".join(t for _, t in codes_and_texts)
    if "_SSL" in names or "SSL handshake failed" in text:
        if "certificate verify failed" in text:
            return "TLS handshake failed: the broker's certificate is not trusted (check ALERTSTREAM_KAFKA_SSL_CA_FILE)"
        if "wrong version number" in text or "packet length too long" in text:
            return "TLS handshake failed: the listener does not speak TLS (check ALERTSTREAM_KAFKA_SECURITY_PROTOCOL)"
        match = re.search(r"SSL handshake failed: ([^(]+)", text)
        return f"TLS handshake failed: {match.group(1).strip() if match else 'see the broker log'}"
    if names & {"_AUTHENTICATION", "SASL_AUTHENTICATION_FAILED"} or "Authentication failed" in text:
        return "SASL authentication failed (check ALERTSTREAM_KAFKA_SASL_USERNAME / _PASSWORD and the mechanism)"
    if "_RESOLVE" in names or "Failed to resolve" in text:
        return "the broker's host name does not resolve"
    if "Connection refused" in text:
        return "connection refused"
    if "APIVERSION_QUERY" in text or "Disconnected while requesting ApiVersion" in text:
        return (
            "the broker closed the connection at the first request "
            "(a TLS or SASL listener? check ALERTSTREAM_KAFKA_SECURITY_PROTOCOL)"
        )
    if "Disconnected" in text:
        return "the broker closed the connection"
    return "no answer"


def check_kafka(bootstrap: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Return once a broker answered a metadata request; raise :class:`KafkaUnavailable` otherwise.

    A broker that refuses connections is tried until ``timeout`` (it may be starting); a TLS or
    SASL failure is final at once (trying again gives the same answer)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    errors: list[Any] = []
    lines = _Collect()
    quiet = logging.getLogger(f"alertstream.kafka.probe.{id(lines)}")
    quiet.propagate, quiet.handlers = False, [lines]  # none of the attempt's lines reach the output
    quiet.setLevel(logging.DEBUG)
    admin = AdminClient(admin_config(bootstrap, error_cb=errors.append, logger=quiet))
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin.list_topics(timeout=min(1.0, max(0.1, deadline - time.monotonic())))
            return
        except KafkaException as exc:
            errors.append(exc.args[0] if exc.args else exc)
        admin.poll(0)  # serve the error callbacks of the attempt
        seen = [(e.name(), e.str()) if hasattr(e, "name") else ("", str(e)) for e in errors]
        seen += [("log", line) for line in lines.lines]
        why = reason(seen)
        final = why.startswith(_FINAL)
        if final or time.monotonic() >= deadline:
            tried = "" if final else f" for {timeout:g} s"
            raise KafkaUnavailable(f"cannot reach Kafka at {bootstrap} ({connection().describe()}){tried}: {why}")


_FINAL = ("TLS handshake failed", "SASL authentication failed", "the broker's host name does not resolve")
