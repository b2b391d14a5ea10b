"""A minimal Confluent-compatible schema registry client (HTTP, TopicNameStrategy subjects).

Only what the codec needs: register a schema under a subject and fetch a schema by id. Results
are cached by the codec, so the registry is called once per (topic, schema) and once per id.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from alertstream.schemas.codec import SchemaVersion

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class HttpSchemaRegistry:
    """Talks to ``url`` (e.g. ``http://registry:8081``) with short timeouts."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self._client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout, follow_redirects=False)

    def register(self, subject: str, schema: SchemaVersion) -> int:
        response = self._client.post(
            f"/subjects/{subject}/versions",
            content=json.dumps({"schema": json.dumps(schema.parsed)}),
            headers={"Content-Type": _CONTENT_TYPE},
        )
        response.raise_for_status()
        return int(response.json()["id"])

    def schema_by_id(self, schema_id: int) -> dict[str, Any] | None:
        response = self._client.get(f"/schemas/ids/{schema_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        parsed: dict[str, Any] = json.loads(response.json()["schema"])
        return parsed

    def close(self) -> None:
        self._client.close()
