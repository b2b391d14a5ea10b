"""Registry mode of the codec: an outage is not bad input; lookups are cached by id, failures not."""

from __future__ import annotations

from typing import Any

import pytest

from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec, SchemaVersion
from alertstream.schemas.errors import CodecError, SchemaRegistryUnavailable
from tests.unit.schemas.test_codec import METRIC, FakeRegistry


class FlakyRegistry(FakeRegistry):
    """A registry double whose lookups fail (as a connection error would) while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.lookups: list[int] = []

    def schema_by_id(self, schema_id: int) -> dict[str, Any] | None:
        self.lookups.append(schema_id)
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        return super().schema_by_id(schema_id)

    def register(self, subject: str, schema: SchemaVersion) -> int:
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        return super().register(subject, schema)


def _written(registry: FakeRegistry) -> bytes:
    return Codec(registry).encode(c.METRIC_EVENT, METRIC, topic="events.metric")


def test_an_outage_is_registry_unavailable_not_a_codec_error() -> None:
    registry = FlakyRegistry()
    data = _written(registry)
    registry.down = True
    reader = Codec(registry)
    with pytest.raises(SchemaRegistryUnavailable) as err:
        reader.decode(data, c.METRIC_EVENT)
    assert not isinstance(err.value, CodecError), "an outage must never send a good event to events.invalid"
    assert err.value.reason == "schema_registry_unavailable"
    registry.down = False  # the failure was not cached: the next decode asks again and succeeds
    assert reader.decode(data, c.METRIC_EVENT) == METRIC
    assert registry.lookups == [100, 100]


def test_a_registration_during_an_outage_is_registry_unavailable() -> None:
    registry = FlakyRegistry()
    registry.down = True
    with pytest.raises(SchemaRegistryUnavailable):
        Codec(registry).encode(c.METRIC_EVENT, METRIC, topic="events.metric")


def test_a_known_id_is_cached_forever_and_an_unknown_id_stays_unknown_schema() -> None:
    registry = FlakyRegistry()
    data = _written(registry)
    reader = Codec(registry)
    assert reader.decode(data, c.METRIC_EVENT) == METRIC
    registry.down = True  # cached: no lookup at all any more
    for _ in range(3):
        assert reader.decode(data, c.METRIC_EVENT) == METRIC
    assert registry.lookups == [100]
    registry.down = False
    with pytest.raises(CodecError) as err:
        reader.decode(b"\x00\x00\x00\x00\x09" + data[5:], c.METRIC_EVENT)
    assert err.value.reason == "unknown_schema"


def test_unresolved_ids_are_resolved_in_one_call_off_the_caller() -> None:
    """What a consumer does per batch, on a worker thread: find the ids it has not seen, resolve them."""
    registry = FlakyRegistry()
    data = _written(registry)
    reader = Codec(registry)
    batch = [data, Codec().encode(c.METRIC_EVENT, METRIC), b"\x00\x00\x00\x00\x09rest", b"\x00\x00", None, b""]
    assert reader.unresolved_ids(batch) == {100, 9}
    reader.resolve({100, 9})
    assert sorted(registry.lookups) == [9, 100]
    assert reader.unresolved_ids(batch) == set(), "id 9 is known to be missing (for a while)"
    assert reader.decode(data, c.METRIC_EVENT) == METRIC
    assert sorted(registry.lookups) == [9, 100], "decode asked nothing more"
    registry.down = True
    fresh = Codec(registry)
    with pytest.raises(SchemaRegistryUnavailable):
        fresh.resolve(fresh.unresolved_ids(batch))
    assert fresh.unresolved_ids(batch) == {100, 9}


def test_a_codec_without_registry_has_nothing_to_resolve() -> None:
    assert Codec().unresolved_ids([b"\x00\x00\x00\x00\x01xx"]) == set()
    assert Codec().pending_registrations([(c.ALERT, "alerts")]) == []
