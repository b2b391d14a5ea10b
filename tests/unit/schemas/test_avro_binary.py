"""The compiled Avro writer and reader against fastavro: the same bytes for every record it
writes and the same record for every body it reads, and fastavro's bytes, record or error for
everything it hands back.

Records are generated from each alertstream schema (current and every kept history version):
seeded, so a failure repeats; strings with multi-byte and astral characters, numbers at the
edges of their ranges, empty and large maps and arrays, both sides of every union.
"""

from __future__ import annotations

import importlib.util
import io
import math
import random
from collections import UserDict
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer

from alertstream.schemas import avro_binary, label_fingerprint
from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec, SchemaVersion, load_current, load_history
from alertstream.schemas.errors import CodecError

_TEXTS = ["", "a", "cpu_percent", "Ünïcødé", "日本語のラベル", "emoji \U0001f525 fire", "x" * 300, "line\nbreak\ttab"]
_LONGS = [0, 1, -1, 63, 64, -64, -65, 2**31 - 1, -(2**31), 2**53, 2**63 - 1, -(2**63), 1_764_633_600_000]
_INTS = [0, 1, -1, 127, 128, 2**31 - 1, -(2**31)]
_DOUBLES = [0.0, -0.0, 1.5, -97.25, 1e300, 5e-324, math.inf, -math.inf]


def _fastavro(schema: SchemaVersion, record: Any) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, schema.runtime, record)
    return out.getvalue()


def _value(schema: Any, rng: random.Random, named: dict[str, Any]) -> Any:
    """A random valid datum of ``schema`` (fastavro's parsed form)."""
    if isinstance(schema, list):
        return _value(rng.choice(schema), rng, named)
    if isinstance(schema, str):
        if schema in named:
            return _value(named[schema], rng, named)
        schema = {"type": schema}
    kind = schema["type"]
    if kind == "null":
        return None
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice(_INTS) if rng.random() < 0.5 else rng.randint(-(2**31), 2**31 - 1)
    if kind == "long":
        return rng.choice(_LONGS) if rng.random() < 0.5 else rng.randint(-(2**63), 2**63 - 1)
    if kind in ("float", "double"):
        value = rng.choice(_DOUBLES) if rng.random() < 0.5 else rng.uniform(-1e6, 1e6)
        return value if kind == "double" or abs(value) < 1e30 else 1.25
    if kind == "string":
        return rng.choice(_TEXTS) + (str(rng.randint(0, 10**9)) if rng.random() < 0.5 else "")
    if kind == "bytes":
        return rng.randbytes(rng.randint(0, 40))
    if kind == "enum":
        return rng.choice(schema["symbols"])
    if kind == "array":
        return [_value(schema["items"], rng, named) for _ in range(rng.choice([0, 1, 3, 70]))]
    if kind == "map":
        return {
            f"k{i}{rng.choice(_TEXTS)[:5]}": _value(schema["values"], rng, named)
            for i in range(rng.choice([0, 1, 5, 70]))
        }
    if kind == "record":
        named[schema["name"]] = schema
        # a field with a default is sometimes left out: both writers write its default then
        return {
            f["name"]: _value(f["type"], rng, named)
            for f in schema["fields"]
            if "default" not in f or rng.random() < 0.7
        }
    raise AssertionError(f"no generator for {kind}")


def _source_module() -> ModuleType:
    """The module as plain Python, from the ``.py`` beside the compiled one: what a build without
    a C compiler (or ``ALERTSTREAM_PURE=1``) runs."""
    path = Path(str(avro_binary.__file__)).with_name("avro_binary.py")
    spec = importlib.util.spec_from_file_location("alertstream_avro_binary_source", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Both builds: compiled (what the codec uses when built) and plain Python.
BUILDS = pytest.mark.parametrize("build", [avro_binary, _source_module()], ids=["compiled", "pure"])


def _rounds(build: ModuleType, compiled: int) -> int:
    """Generated records per test: the plain-Python build is the same source, ~5x slower to run."""
    return compiled if build is avro_binary else compiled // 5


def _versions() -> list[SchemaVersion]:
    return [v for name in c.RECORD_NAMES for v in (*load_history(name), load_current(name))]


@BUILDS
@pytest.mark.parametrize("schema", _versions(), ids=lambda v: f"{v.name}-{v.fingerprint.hex()[:6]}")
def test_every_generated_record_is_written_as_fastavro_writes_it(build: ModuleType, schema: SchemaVersion) -> None:
    assert schema.plan is not None, "every alertstream schema is one the compiled writer writes"
    plan = build.prepare(schema.runtime)
    rng = random.Random(schema.fingerprint)
    for _ in range(_rounds(build, 1500)):
        record = _value(schema.runtime, rng, {})
        assert build.encode(plan, b"H", record) == b"H" + _fastavro(schema, record), record


@BUILDS
@pytest.mark.parametrize("schema", _versions(), ids=lambda v: f"{v.name}-{v.fingerprint.hex()[:6]}")
def test_every_generated_body_is_read_as_fastavro_reads_it(build: ModuleType, schema: SchemaVersion) -> None:
    plan = build.prepare(schema.runtime)
    rng = random.Random(schema.fingerprint + b"read")
    for _ in range(_rounds(build, 1000)):
        body = _fastavro(schema, _value(schema.runtime, rng, {}))
        expected = schemaless_reader(io.BytesIO(body), schema.runtime, None)
        got, end = build.decode(plan, b"HH" + body, 2)
        assert end == 2 + len(body)
        assert _same_floats(got, expected), (got, expected)


def _same_floats(a: Any, b: Any) -> bool:
    """== with NaN equal to NaN and -0.0 told from 0.0 (== says 0.0 == -0.0)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (math.copysign(1, a) == math.copysign(1, b) and a == b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_floats(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_floats(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


@BUILDS
@pytest.mark.parametrize("name", c.RECORD_NAMES)
def test_corrupted_bodies_are_read_as_fastavro_reads_them_or_handed_to_it(build: ModuleType, name: str) -> None:
    """Truncated bodies and flipped bytes: where the compiled reader returns a record, fastavro
    returns the same one (and reads to the same end); otherwise it hands the body back."""
    schema = load_current(name)
    plan = build.prepare(schema.runtime)
    rng = random.Random(name)
    checked = 0
    for _ in range(_rounds(build, 600)):
        body = bytearray(_fastavro(schema, _value(schema.runtime, rng, {})))
        if rng.random() < 0.5:
            del body[rng.randrange(len(body)) :]
        for _ in range(rng.randint(1, 3)):
            if body:
                body[rng.randrange(len(body))] = rng.randrange(256)
        data = bytes(body)
        try:
            got, end = build.decode(plan, data, 0)
        except (build.Fallback, UnicodeDecodeError):
            continue
        stream = io.BytesIO(data)
        assert _same_floats(schemaless_reader(stream, schema.runtime, None), got)
        assert stream.tell() == end
        checked += 1
    assert checked > 0  # some corruptions still decode: the comparison ran


def test_the_codec_hands_what_the_reader_refuses_to_fastavro_and_its_errors() -> None:
    codec = Codec()
    schema, record = _record(c.EXTERNAL_ALERT)
    data = codec.encode(c.EXTERNAL_ALERT, record)
    assert codec.decode(data, c.EXTERNAL_ALERT) == schemaless_reader(io.BytesIO(data[10:]), schema.runtime, None)
    with pytest.raises(CodecError) as truncated:
        codec.decode(data[:-3], c.EXTERNAL_ALERT)
    assert truncated.value.reason == "truncated"
    with pytest.raises(CodecError) as trailing:
        codec.decode(data + b"\x00", c.EXTERNAL_ALERT)
    assert trailing.value.reason == "schema_mismatch"


def _record(name: str) -> tuple[SchemaVersion, dict[str, Any]]:
    schema = load_current(name)
    return schema, _value(schema.runtime, random.Random(7), {})


def test_a_missing_field_with_a_default_is_written_with_it_as_fastavro_does() -> None:
    """The worker's Alert leaves out ``event`` (added with a default in a later version)."""
    schema, record = _record(c.ALERT)
    record.pop("event", None)
    assert schema.plan is not None
    assert avro_binary.encode(schema.plan, b"", record) == _fastavro(schema, record)
    schema, record = _record(c.EXTERNAL_ALERT)
    record.pop("annotations", None)
    record.pop("starts_at", None)
    assert schema.plan is not None
    assert avro_binary.encode(schema.plan, b"", record) == _fastavro(schema, record)


@pytest.mark.parametrize(
    ("name", "change"),
    [
        # fastavro coerces an int where a double is due, and a bool where a long is
        (c.METRIC_EVENT, lambda r: r.update(value=97)),
        (c.EXTERNAL_ALERT, lambda r: r.update(received_at=True)),
        # any Mapping is a map or record to fastavro
        (c.EXTERNAL_ALERT, lambda r: r.update(labels=UserDict({"alertname": "X"}))),
        # a union branch given an int of the double branch: ["null", "double"]
        (c.ALERT, lambda r: r.update(value=3)),
    ],
    ids=["int-for-double", "bool-for-long", "non-dict-map", "int-for-nullable-double"],
)
def test_what_it_does_not_write_exactly_is_written_by_fastavro(name: str, change: Any) -> None:
    schema, record = _record(name)
    change(record)
    assert schema.plan is not None
    with pytest.raises(avro_binary.Fallback):
        avro_binary.encode(schema.plan, b"", record)
    codec = Codec()
    assert codec.encode(name, record) == c.SINGLE_OBJECT_MAGIC + schema.fingerprint + _fastavro(schema, record)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.pop("tenant"),  # missing, and no default
        lambda r: r.update(received_at=2**63),  # out of a long's range
        lambda r: r.update(tenant=7),  # not text
        lambda r: r.update(labels={"alertname": "\ud800"}),  # a lone surrogate: not UTF-8
    ],
    ids=["missing-no-default", "long-overflow", "int-for-string", "lone-surrogate"],
)
def test_a_record_neither_can_write_is_the_codecs_encode_failed(change: Any) -> None:
    _, record = _record(c.EXTERNAL_ALERT)
    change(record)
    with pytest.raises(CodecError) as caught:
        Codec().encode(c.EXTERNAL_ALERT, record)
    assert caught.value.reason == "encode_failed"


def test_a_logical_type_is_left_to_fastavro() -> None:
    assert avro_binary.prepare({"type": "long", "logicalType": "timestamp-millis"}) is None
    assert (
        avro_binary.prepare(
            {"type": "record", "name": "R", "fields": [{"name": "t", "type": {"type": "int", "logicalType": "date"}}]}
        )
        is None
    )


@pytest.mark.parametrize("module", [avro_binary, label_fingerprint], ids=lambda m: m.__name__)
def test_the_compiled_modules_are_compiled_from_the_source_beside_them(module: ModuleType) -> None:
    """``make`` builds setup.py's ``COMPILED`` modules; a stale one would shadow edits of its
    source, so it must be newer than the ``.py`` (``make venv`` rebuilds it)."""
    compiled = Path(str(module.__file__))
    assert compiled.suffix == ".so", f"{compiled}: not compiled (pip install -e . builds it; ALERTSTREAM_PURE unset)"
    source = compiled.parent / f"{module.__name__.rsplit('.', 1)[-1]}.py"
    assert compiled.stat().st_mtime >= source.stat().st_mtime, f"{compiled} is older than {source}: run `make venv`"
    setup_py = Path(__file__).resolve().parents[3] / "setup.py"
    assert f'"alertstream/schemas/{source.name}"' in setup_py.read_text()
