"""The `history:` section: per-table retention, validated with the path of each problem."""

from __future__ import annotations

import pytest

from alertstream.schemas.config import parse_config
from alertstream.schemas.errors import ConfigError


def test_defaults_keep_every_table_for_a_stated_number_of_days() -> None:
    history = parse_config({}, "c.yaml").history
    assert history.retention.model_dump() == {
        "alerts": 90,
        "delivery_outcomes": 90,
        "notifications": 90,
        "dlq_entries": 180,
        "audit_log": 400,
        "delivery_ledger": 400,
    }
    assert (history.retention_interval_seconds, history.delete_batch_rows) == (300.0, 5000)


def test_bad_retention_names_file_path_and_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"history": {"retention": {"alerts": 0, "audit": 5}, "delete_batch_rows": 10}}, "c.yaml")
    text = str(caught.value)
    assert "c.yaml" in text
    assert "history.retention.alerts" in text
    assert "history.retention.audit" in text  # unknown table: a typo must not silently keep forever
    assert "history.delete_batch_rows" in text
