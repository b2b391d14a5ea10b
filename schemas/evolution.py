"""Schema evolution: every change keeps FULL_TRANSITIVE compatibility with the kept versions.

FULL_TRANSITIVE means: data written with *any* kept version reads with the current schema
(backward) and data written with the current schema reads with *any* kept version (forward).
The check is behavioural, with Avro's own resolution rules as implemented by fastavro: random
records of the writer schema are encoded and read back through the reader schema. A structural
check alone would trust our reading of the spec; this one trusts the decoder users run.

``snapshot()`` freezes the current schemas as the next history version (run it when releasing a
schema change; ``alertstream schemas snapshot``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

from fastavro import schemaless_reader, schemaless_writer
from fastavro.utils import generate_many

from alertstream.schemas.codec import HISTORY_DIR, RECORD_NAMES, SchemaVersion, load_current, load_history


@dataclass(frozen=True)
class Incompatibility:
    name: str
    version: int
    direction: str  # "backward" (old writer, new reader) or "forward" (new writer, old reader)
    problem: str


def _reads(writer: SchemaVersion, reader: SchemaVersion, samples: int) -> str | None:
    for record in generate_many(writer.parsed, samples):
        buf = io.BytesIO()
        schemaless_writer(buf, writer.parsed, record)
        buf.seek(0)
        try:
            schemaless_reader(buf, writer.parsed, reader.parsed)
        except Exception as exc:  # any resolution failure is the finding
            return f"{type(exc).__name__}: {exc}"
    return None


def check_full_transitive(samples: int = 50) -> Iterator[Incompatibility]:
    """Yield every incompatibility between the current schemas and their kept versions."""
    for name in RECORD_NAMES:
        current = load_current(name)
        for number, old in enumerate(load_history(name), start=1):
            problem = _reads(old, current, samples)
            if problem:
                yield Incompatibility(name, number, "backward", problem)
            problem = _reads(current, old, samples)
            if problem:
                yield Incompatibility(name, number, "forward", problem)


def snapshot() -> list[str]:
    """Write each current schema that differs from its latest kept version as a new version."""
    written = []
    for name in RECORD_NAMES:
        current = load_current(name)
        history = load_history(name)
        if history and history[-1].canonical == current.canonical:
            continue
        folder = HISTORY_DIR / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{len(history) + 1}.avsc"
        path.write_text(json.dumps(current.parsed, indent=2) + "\n")
        written.append(str(path))
    return written
