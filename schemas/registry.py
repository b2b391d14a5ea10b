"""The schema registry client of the codec: confluent-kafka's ``SchemaRegistryClient`` (TopicNameStrategy).

Why that client rather than our own HTTP calls: it is already a dependency and does what a
registry deployment needs — basic auth (``basic.auth.user.info``), a static bearer token, a
private CA (``ssl.ca.location``), several registry URLs (comma-separated, tried in turn) — and
caches schemas by id. What this adapter adds is the contract the codec relies on
(:class:`~alertstream.schemas.codec.SchemaRegistry`):

* a 404 with the registry's error code 40403 ("schema not found") is the one answer that means
  "this id does not exist" (None → ``unknown_schema``); **every other failure** (connection,
  timeout, TLS, 401/403, 5xx, a proxy's 404 page, a reply that is not JSON) is
  :class:`~alertstream.schemas.errors.SchemaRegistryUnavailable`, so a consumer waits instead of
  sending good events to ``events.invalid``;
* the client's own retries are off (``max.retries`` 0: it would sleep in the calling thread);
  the consumers back off themselves (:mod:`alertstream.runtime.codecs`);
* credentials come from their own settings, never from the URL, and no error detail carries the
  URL or a credential (only the exception type or the HTTP status).
"""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from alertstream.schemas.codec import SchemaVersion
from alertstream.schemas.errors import SchemaRegistryUnavailable

#: The registry's error code for "schema not found" (GET /schemas/ids/{id}).
SCHEMA_NOT_FOUND = 40403


class ConfluentSchemaRegistry:
    """A Confluent-compatible registry at ``url`` (e.g. ``https://registry:8081``).

    ``username``/``password`` = HTTP basic auth; ``bearer_token`` = ``Authorization: Bearer``
    (not both); ``ca_file`` = PEM bundle of the CAs to trust (default: certifi's).
    """

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        bearer_token: str | None = None,
        ca_file: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        conf: dict[str, Any] = {"url": url, "timeout": timeout, "max.retries": 0}
        if username is not None:
            conf["basic.auth.user.info"] = f"{username}:{password or ''}"
        if bearer_token is not None:
            conf["bearer.auth.credentials.source"] = "STATIC_TOKEN"
            conf["bearer.auth.token"] = bearer_token
            conf["bearer.auth.logical.cluster"] = ""  # required by the client; Confluent Cloud's header
        if ca_file is not None:
            conf["ssl.ca.location"] = ca_file
        self._client = SchemaRegistryClient(conf)

    def __repr__(self) -> str:
        return "ConfluentSchemaRegistry(***)"  # the client's conf holds the credentials

    def register(self, subject: str, schema: SchemaVersion) -> int:
        try:
            return int(self._client.register_schema(subject, Schema(json.dumps(schema.parsed), "AVRO")))
        except SchemaRegistryError as exc:
            raise SchemaRegistryUnavailable(_status(exc)) from None
        except Exception as exc:
            raise SchemaRegistryUnavailable(type(exc).__name__) from None

    def schema_by_id(self, schema_id: int) -> dict[str, Any] | None:
        try:
            schema = self._client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404 and exc.error_code == SCHEMA_NOT_FOUND:
                return None
            raise SchemaRegistryUnavailable(_status(exc)) from None
        except Exception as exc:
            raise SchemaRegistryUnavailable(type(exc).__name__) from None
        if schema.schema_type not in (None, "AVRO") or not schema.schema_str:
            return None  # a JSON-schema or Protobuf id: never an alertstream record
        try:
            parsed: dict[str, Any] = json.loads(schema.schema_str)
        except ValueError:
            return None
        return parsed

    def close(self) -> None:
        self._client.close()


def _status(exc: SchemaRegistryError) -> str:
    return f"HTTP {exc.http_status_code}, registry error code {exc.error_code}"
