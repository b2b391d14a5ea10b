"""The process's Kafka connection (:mod:`alertstream.runtime.kafka_connection`) as Faust settings.

Faust passes ``broker_credentials`` to every aiokafka client it makes (the group consumer, the
producer, the table recovery and topic-creation clients), so the worker's Faust app reaches the
cluster exactly as the process's confluent-kafka clients do: same protocol, same CA and client
certificate files, same SASL mechanism and credentials (OAUTHBEARER through the client-credentials
token provider of :mod:`alertstream.runtime.kafka_oauth`). librdkafka-only passthrough properties
are named once in the log (aiokafka has no equivalent for them).
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from alertstream.runtime.kafka_connection import KafkaConnection

log = logging.getLogger(__name__)


def broker_settings(connection: KafkaConnection) -> dict[str, Any]:
    """Keyword arguments for ``faust.App``: ``broker_credentials`` (absent for PLAINTEXT)."""
    ignored = connection.librdkafka_only()
    if ignored:
        log.info(
            "the worker's Faust (aiokafka) clients do not apply these librdkafka properties: %s", ", ".join(ignored)
        )
    auth = connection.aiokafka()
    protocol = auth["security_protocol"]
    mechanism = auth.get("sasl_mechanism")
    context = auth.get("ssl_context")
    if protocol == "PLAINTEXT":
        return {}
    if mechanism is None:  # SSL
        return {"broker_credentials": faust.SSLCredentials(context)}
    if mechanism == "OAUTHBEARER":
        return {
            "broker_credentials": faust.OAuthCredentials(
                oauth_cb=auth["sasl_oauth_token_provider"], ssl_context=context
            )
        }
    return {
        "broker_credentials": faust.SASLCredentials(
            username=auth["sasl_plain_username"],
            password=auth["sasl_plain_password"],
            ssl_context=context,
            mechanism=mechanism,
        )
    }
