"""``POST /api/v2/alerts`` items -> ExternalAlertEvent: every refusal names its reason and field."""

from __future__ import annotations

from typing import Any

import pytest

from alertstream.schemas.errors import ValidationError
from alertstream.schemas.external_alerts import MAX_ANNOTATION_VALUE, MAX_LABEL_VALUE, postable_alert


def _event(item: Any) -> Any:
    return postable_alert(item, key_tenant="acme", default_tenant=None, now_ms=1_764_600_000_000, source="t")


@pytest.mark.parametrize(
    ("item", "reason", "path"),
    [
        ({"labels": {"a b": "x"}}, "bad_name", "labels.a b"),
        ({"labels": {"9lives": "x"}}, "bad_name", "labels.9lives"),
        ({"labels": {"alertname\n": "x"}}, "bad_name", "labels.alertname\n"),  # `$` let a final newline through
        ({"labels": {"a": "b", "ünï": "x"}}, "bad_name", "labels.ünï"),
        ({"labels": {"a": "b", "c": "\ud800"}}, "bad_text", "labels.c"),
        ({"labels": {"a": "b"}, "annotations": {"s": "ok", 7: "x"}}, "bad_name", "annotations"),
        ({"labels": {"n" * 257: "x"}}, "bad_name", "labels." + "n" * 257),
        ({"labels": {"a\x00": "x"}}, "bad_name", "labels"),  # a name that cannot be shown is not in the path
        ({"labels": {"a": 1}}, "wrong_type", "labels.a"),
        ({"labels": {"a": "b\x00"}}, "bad_text", "labels.a"),
        ({"labels": {"a": "v" * (MAX_LABEL_VALUE + 1)}}, "too_large", "labels.a"),
        ({"labels": {"a": "b"}, "annotations": {"s": "v" * (MAX_ANNOTATION_VALUE + 1)}}, "too_large", "annotations.s"),
        ({"labels": {"a": "b"}, "annotations": {"free text": None}}, "wrong_type", "annotations.free text"),
        ({"labels": {"a": "b"}, "annotations": ["x"]}, "wrong_type", "annotations"),
        ({"labels": {f"l{i}": "x" for i in range(65)}}, "too_large", "labels"),
        ({"labels": {"a": ""}}, "empty_field", "labels"),
    ],
)
def test_each_refused_pair_names_its_reason_and_field(item: dict[str, Any], reason: str, path: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _event(item)
    assert (refused.value.reason, refused.value.path) == (reason, path)


def test_annotation_names_are_free_text_and_empty_values_are_dropped() -> None:
    event = _event({"labels": {"alertname": "A", "gone": ""}, "annotations": {"Runbook URL": "http://r", "x": ""}})
    assert dict(event.labels) == {"alertname": "A"}
    assert dict(event.annotations) == {"Runbook URL": "http://r"}


@pytest.mark.parametrize("tenant", ["acme\n", "a b", ""])
def test_an_admin_keys_tenant_label_must_be_a_tenant_name(tenant: str) -> None:
    item = {"labels": {"alertname": "A", "tenant": tenant}}
    with pytest.raises(ValidationError) as refused:
        postable_alert(item, key_tenant=None, default_tenant=None, now_ms=1, source="t")
    assert refused.value.path == "labels.tenant"
