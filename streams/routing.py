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

from alertstream.schemas.matchers import Matcher, alert_labels, parse_matcher
from alertstream.schemas.rules_config import RouteNode, route_nodes

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


#: Routing results remembered per router (the answer is a pure function of the key); emptied when full.
ROUTE_CACHE = 4096


class Router:
    """A compiled routing tree. ``receivers`` maps receiver name -> channel.

    Every alert is routed, and almost all of them share a handful of (tenant, severity, rule,
    status, labels) combinations: :meth:`routes` remembers its answers (bounded), keyed by *all*
    of its arguments — the answer must stay a pure function of them (a routing input added later
    belongs in the key).

    A node's ``matchers`` (Alertmanager's language, :mod:`alertstream.schemas.matchers`) see the
    alert's label set — its labels plus ``alertname``/``rule``, ``tenant``, ``severity`` and
    ``entity`` — built once per alert, and only when a node with matchers is reached."""

    def __init__(self, root: RouteNode | None, receivers: Mapping[str, str]) -> None:
        self.root = root
        self.receivers = dict(receivers)
        self._cache: dict[tuple[object, ...], list[tuple[Route, RouteNode]]] = {}
        self._matchers: dict[int, list[Matcher]] = {
            id(node): [parse_matcher(m) for m in node.matchers] for _, node in route_nodes(root) if node.matchers
        }

    def _fits(
        self, node: RouteNode, attrs: Mapping[str, str], labels: Mapping[str, str], seen: list[dict[str, str]]
    ) -> bool:
        if not _matches(node.match, attrs, labels):
            return False
        matchers = self._matchers.get(id(node))
        if not matchers:
            return True
        if not seen:
            seen.append(alert_labels({"labels": labels, **attrs}))
        return all(m.matches(seen[0]) for m in matchers)

    def _walk(
        self,
        node: RouteNode,
        inherited: str | None,
        attrs: Mapping[str, str],
        labels: Mapping[str, str],
        seen: list[dict[str, str]],
    ) -> list[tuple[str, RouteNode]]:
        """(receiver, the node that contributed it) in tree order."""
        receiver = node.receiver or inherited
        found: list[tuple[str, RouteNode]] = []
        for child in node.routes:
            if self._fits(child, attrs, labels, seen):
                found += self._walk(child, receiver, attrs, labels, seen)
                if not child.continue_:
                    break
        if not found and receiver:
            found.append((receiver, node))
        return found

    def routes(
        self, tenant: str, severity: str, rule_id: str, status: str, labels: Mapping[str, str], entity: str = ""
    ) -> list[Route]:
        """The receivers of one alert, de-duplicated in tree order (a new list: callers may keep it)."""
        return [route for route, _node in self.matched(tenant, severity, rule_id, status, labels, entity)]

    def matched(
        self, tenant: str, severity: str, rule_id: str, status: str, labels: Mapping[str, str], entity: str = ""
    ) -> list[tuple[Route, RouteNode]]:
        """The routes with the node each came from (its mute/active time intervals and escalation
        policy belong to that node: Alertmanager does not inherit them). A new list: callers may keep it."""
        if self.root is None:
            return []
        key = (tenant, severity, rule_id, status, entity, tuple(labels.items()))
        known = self._cache.get(key)
        if known is None:
            if len(self._cache) >= ROUTE_CACHE:
                self._cache.clear()
            known = self._cache[key] = self._resolve(tenant, severity, rule_id, status, labels, entity)
        return list(known)

    def _resolve(
        self, tenant: str, severity: str, rule_id: str, status: str, labels: Mapping[str, str], entity: str
    ) -> list[tuple[Route, RouteNode]]:
        assert self.root is not None
        attrs = {"tenant": tenant, "severity": severity, "rule_id": rule_id, "status": status, "entity": entity}
        found: Sequence[tuple[str, RouteNode]] = self._walk(self.root, None, attrs, labels, [])
        seen: dict[str, tuple[Route, RouteNode]] = {}
        for name, node in found:
            channel = self.receivers.get(name)
            if channel is not None and name not in seen:
                seen[name] = (Route(name, channel), node)
        return list(seen.values())
