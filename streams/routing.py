"""The routing tree: an alert's attributes -> the receivers (name + channel) it goes to.

Alertmanager semantics, which operators already know: the alert enters at the root; at each node
it descends into the *first* child whose ``match`` fits, and with ``continue: true`` on that
child it also tries the following siblings. A node that matched but none of whose children did
contributes its own receiver (inherited from the nearest ancestor when unset). The result is
de-duplicated in tree order and travels on the alert as ``routes``, so each channel consumer
group only reads the alerts it has to deliver.

Receiver names are resolved to channels when the tree is compiled; an unknown name is a
:class:`~alertstream.schemas.errors.ConfigError` naming the route's path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alertstream.schemas.rules_config import RouteNode

#: Match keys that name alert attributes; any other key is a label name.
ATTRIBUTE_KEYS = frozenset({"tenant", "severity", "rule", "rule_id", "status"})


@dataclass(frozen=True, slots=True)
class Route:
    receiver: str
    channel: str


def _matches(match: Mapping[str, str], attrs: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    for key, wanted in match.items():
        have = attrs.get("rule_id" if key == "rule" else key) if key in ATTRIBUTE_KEYS else labels.get(key)
        if have != wanted:
            return False
    return True


class Router:
    """A compiled routing tree. ``receivers`` maps receiver name -> channel."""

    def __init__(self, root: RouteNode | None, receivers: Mapping[str, str]) -> None:
        self.root = root
        self.receivers = dict(receivers)

    def _walk(
        self, node: RouteNode, inherited: str | None, attrs: Mapping[str, str], labels: Mapping[str, str]
    ) -> list[tuple[str, RouteNode]]:
        """(receiver, the node that contributed it) in tree order."""
        receiver = node.receiver or inherited
        found: list[tuple[str, RouteNode]] = []
        for child in node.routes:
            if _matches(child.match, attrs, labels):
                found += self._walk(child, receiver, attrs, labels)
                if not child.continue_:
                    break
        if not found and receiver:
            found.append((receiver, node))
        return found

    def routes(self, tenant: str, severity: str, rule_id: str, status: str, labels: Mapping[str, str]) -> list[Route]:
        return [route for route, _node in self.matched(tenant, severity, rule_id, status, labels)]

    def matched(
        self, tenant: str, severity: str, rule_id: str, status: str, labels: Mapping[str, str]
    ) -> list[tuple[Route, RouteNode]]:
        """The routes with the node each came from (its mute/active time intervals and escalation
        policy belong to that node: Alertmanager does not inherit them)."""
        if self.root is None:
            return []
        attrs = {"tenant": tenant, "severity": severity, "rule_id": rule_id, "status": status}
        found: Sequence[tuple[str, RouteNode]] = self._walk(self.root, None, attrs, labels)
        seen: dict[str, tuple[Route, RouteNode]] = {}
        for name, node in found:
            channel = self.receivers.get(name)
            if channel is not None and name not in seen:
                seen[name] = (Route(name, channel), node)
        return list(seen.values())
