"""Fingerprints: the stable identity of "the same alert" = rule + tenant + entity.

The fingerprint is the dedup/grouping key, the state-table key and the Kafka key of ``alerts``,
so it must not depend on anything that varies between occurrences (values, timestamps, event
ids, label order) nor on the process that computed it: it is a hash of canonical text, never
Python's randomised ``hash()``.

The *entity* is what the alert is about: a metric's ``source`` (plus the rule's ``group_by``
labels, so one source can carry several independently alerting series), or a drift's ``payer``
(plus ``cpt_group``). Entities are always derived from the fields of the event's Kafka key, so
every occurrence of one fingerprint lands on the same partition and its state stays local.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence


def metric_entity(source: str, labels: Mapping[str, str], group_by: Sequence[str] = ()) -> str:
    """``source`` or ``source{k=v,...}`` with the rule's ``group_by`` labels in a fixed order."""
    if not group_by:
        return source
    parts = ",".join(f"{name}={labels.get(name, '')}" for name in sorted(group_by))
    return f"{source}{{{parts}}}"


def drift_entity(payer: str, cpt_group: str | None) -> str:
    return f"{payer}/{cpt_group}" if cpt_group else payer


def fingerprint(rule_id: str, tenant: str, entity: str) -> str:
    """32 hex characters of SHA-256 over the length-prefixed parts (no ambiguity between parts)."""
    text = "".join(f"{len(part)}:{part}" for part in (rule_id, tenant, entity))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
