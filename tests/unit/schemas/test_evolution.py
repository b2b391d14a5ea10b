"""Schema evolution: the kept versions and the current schemas are FULL_TRANSITIVE compatible."""

from __future__ import annotations

import copy

from alertstream.schemas import codec as c
from alertstream.schemas.codec import SchemaVersion, _version, load_current, load_history
from alertstream.schemas.evolution import _reads, check_full_transitive


def test_every_record_type_has_a_kept_version() -> None:
    for name in c.RECORD_NAMES:
        assert load_history(name), f"{name} has no version under schemas/history/"


def test_current_schemas_are_full_transitive() -> None:
    assert list(check_full_transitive()) == []


def _with_field(base: SchemaVersion, new_field: dict[str, object]) -> SchemaVersion:
    parsed = copy.deepcopy(base.parsed)
    parsed["fields"].append(new_field)
    return _version(parsed)


def test_the_check_catches_a_required_field_without_default() -> None:
    """Guards the guard: the check must fail for the classic incompatible change."""
    old = load_current(c.METRIC_EVENT)
    new = _with_field(old, {"name": "region", "type": "string"})
    assert _reads(old, new, 5) is not None  # backward: old data lacks `region`, no default
    assert _reads(new, old, 5) is None  # forward: the old reader ignores the extra field


def test_the_check_accepts_a_field_with_default() -> None:
    old = load_current(c.METRIC_EVENT)
    new = _with_field(old, {"name": "region", "type": "string", "default": ""})
    assert _reads(old, new, 5) is None
    assert _reads(new, old, 5) is None


def test_the_check_catches_a_type_change() -> None:
    old = load_current(c.METRIC_EVENT)
    parsed = copy.deepcopy(old.parsed)
    for f in parsed["fields"]:
        if f["name"] == "value":
            f["type"] = "string"
    assert _reads(old, _version(parsed), 5) is not None
