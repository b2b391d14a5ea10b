"""The one codec of a process, built from the one settings object and the config, and the one way
consumers wait for the schema registry.

Every process (worker, deliver, store, dlq, publish) gets its codec here, so they agree on the wire
format (a schema registry when ``ALERTSTREAM_SCHEMA_REGISTRY_URL`` is set, else Avro
single-object encoding) and on the size limit (``topics.max_message_bytes``). A process that
built its own ``Codec()`` once silently ignored the registry and dead-lettered every alert.

:class:`RegistryWait` is what the consumer loops call before decoding a batch: it fetches the
writer schemas the batch names (and registers what the process is about to encode) *off the
event loop*, and while the registry is unavailable it backs off and tries again — the batch is
neither decoded nor committed meanwhile, so a registry outage delays events but never sends a good
one to ``events.invalid``, a DLQ or the store's skipped count. The ``schema_registry`` readiness
check is false while it waits; the loop's liveness beat goes on (waiting is not being wedged).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable

from alertstream.runtime.health import Health
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import AlertstreamConfig
from alertstream.schemas.errors import SchemaRegistryUnavailable

log = logging.getLogger(__name__)

#: Back-off between attempts while the registry is unavailable: doubles from the first to the last.
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 5.0
#: A still-unavailable registry is logged again after this long (not on every attempt).
LOG_EVERY_S = 30.0


def build_codec(settings: Settings, config: AlertstreamConfig) -> Codec:
    registry = None
    if settings.schema_registry_url:
        from alertstream.schemas.registry import ConfluentSchemaRegistry

        password, token = settings.schema_registry_password, settings.schema_registry_bearer_token
        registry = ConfluentSchemaRegistry(
            settings.schema_registry_url,
            username=settings.schema_registry_username,
            password=password.get_secret_value() if password else None,
            bearer_token=token.get_secret_value() if token else None,
            ca_file=settings.schema_registry_ca_file,
        )
    return Codec(registry, max_bytes=config.topics.max_message_bytes)


class RegistryWait:
    """Makes a batch decodable: its schema ids fetched, the process's encodings registered.

    ``encodes``: the (record name, topic) pairs this process encodes in the Confluent format (the
    worker: Alert on ``alerts``), registered before the first batch that would need them.
    """

    def __init__(self, codec: Codec, health: Health | None = None, encodes: Iterable[tuple[str, str]] = ()) -> None:
        self.codec = codec
        self.health = health or Health()
        self.encodes = list(encodes)
        self._failing_since: float | None = None
        self._logged_at = 0.0
        if codec.registry is not None:
            self.health.set_check("schema_registry", True)

    def _work(self, values: Iterable[bytes | None]) -> tuple[set[int], list[tuple[str, str]]]:
        return self.codec.unresolved_ids(values), self.codec.pending_registrations(self.encodes)

    async def ready(self, values: Iterable[bytes | None], stopping: Callable[[], bool]) -> bool:
        """Wait (on the event loop, the lookups on a thread) until the batch can be decoded.
        False when ``stopping()`` turned true first: hand the batch back, uncommitted."""
        ids, registrations = self._work(values)
        delay = FIRST_RETRY_S
        while ids or registrations:
            try:
                await asyncio.to_thread(self.codec.resolve, ids, registrations)
            except SchemaRegistryUnavailable as exc:
                self._failed(exc)
                deadline = time.monotonic() + delay
                while time.monotonic() < deadline:
                    if stopping():
                        return False
                    self.health.beat()
                    await asyncio.sleep(min(0.2, delay))
                delay = min(delay * 2, MAX_RETRY_S)
                continue
            self._recovered()
            ids, registrations = set(), []
        return True

    def ready_blocking(self, values: Iterable[bytes | None], stop: threading.Event) -> bool:
        """:meth:`ready` for a loop on its own thread (the store)."""
        ids, registrations = self._work(values)
        delay = FIRST_RETRY_S
        while ids or registrations:
            try:
                self.codec.resolve(ids, registrations)
            except SchemaRegistryUnavailable as exc:
                self._failed(exc)
                self.health.beat()
                if stop.wait(delay):
                    return False
                delay = min(delay * 2, MAX_RETRY_S)
                continue
            self._recovered()
            ids, registrations = set(), []
        return True

    def _failed(self, exc: SchemaRegistryUnavailable) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        self.health.set_check("schema_registry", False, exc.detail)
        if now - self._logged_at >= LOG_EVERY_S:
            self._logged_at = now
            log.warning(
                "schema registry unavailable for %.0f s (%s): holding the batch, retrying",
                now - self._failing_since,
                exc.detail,
            )

    def _recovered(self) -> None:
        if self._failing_since is not None:
            log.warning("schema registry answers again after %.0f s", time.monotonic() - self._failing_since)
            self._failing_since, self._logged_at = None, 0.0
        self.health.set_check("schema_registry", True)
