from __future__ import annotations

from alertstream.schemas.rules_config import RouteNode
from alertstream.streams.routing import Route, Router

RECEIVERS = {"hook": "webhook", "pd": "pagerduty", "slack": "slack", "mail": "email", "beta-hook": "webhook"}


def tree(data: dict[str, object]) -> RouteNode:
    return RouteNode.model_validate(data)


def names(
    router: Router, severity: str = "warning", tenant: str = "acme", rule: str = "cpu", **labels: str
) -> list[str]:
    return [r.receiver for r in router.routes(tenant, severity, rule, "firing", labels)]


ROOT = tree(
    {
        "receiver": "hook",
        "routes": [
            {"match": {"severity": "critical"}, "receiver": "pd", "continue": True},
            {"match": {"severity": "critical"}, "receiver": "slack"},
            {
                "match": {"tenant": "beta"},
                "receiver": "beta-hook",
                "routes": [{"match": {"env": "prod"}, "receiver": "pd"}],
            },
            {"match": {"rule": "disk"}, "receiver": "mail"},
        ],
    }
)


def test_first_match_wins_and_continue_falls_through() -> None:
    router = Router(ROOT, RECEIVERS)
    assert names(router, "critical") == ["pd", "slack"]
    assert names(router, "critical", tenant="beta") == ["pd", "slack"]  # slack did not continue


def test_nested_match_on_labels_and_inherited_receiver() -> None:
    router = Router(ROOT, RECEIVERS)
    assert names(router, tenant="beta", env="prod") == ["pd"]
    assert names(router, tenant="beta", env="dev") == ["beta-hook"]


def test_rule_match_and_default_receiver() -> None:
    router = Router(ROOT, RECEIVERS)
    assert names(router, rule="disk") == ["mail"]
    assert names(router) == ["hook"]


def test_routes_carry_the_channel() -> None:
    assert Router(ROOT, RECEIVERS).routes("acme", "critical", "cpu", "firing", {}) == [
        Route("pd", "pagerduty"),
        Route("slack", "slack"),
    ]


def test_no_tree_no_routes() -> None:
    assert Router(None, RECEIVERS).routes("a", "critical", "r", "firing", {}) == []
