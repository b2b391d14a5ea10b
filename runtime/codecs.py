"""The one codec of a process, built from the one settings object and the config.

Every process (worker, deliver, store, dlq, publish) gets its codec here, so they agree on the wire
format (a schema registry when ``ALERTSTREAM_SCHEMA_REGISTRY_URL`` is set, else Avro
single-object encoding) and on the size limit (``topics.max_message_bytes``). A process that
built its own ``Codec()`` once silently ignored the registry and dead-lettered every alert.
"""

from __future__ import annotations

from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import AlertstreamConfig


def build_codec(settings: Settings, config: AlertstreamConfig) -> Codec:
    registry = None
    if settings.schema_registry_url:
        from alertstream.schemas.registry import HttpSchemaRegistry

        registry = HttpSchemaRegistry(settings.schema_registry_url)
    return Codec(registry, max_bytes=config.topics.max_message_bytes)
