"""dev's derived config: the example's demo-sink receivers follow the ports the sink took."""

from __future__ import annotations

import yaml

from alertstream.demo_sink import DemoSink
from alertstream.schemas.config import EXAMPLE_CONFIG, parse_config


def test_the_example_receivers_are_pointed_at_the_chosen_ports_and_others_left_alone() -> None:
    sink = DemoSink([], http_port=40001, smtp_port=40002)
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["receivers"].append({"name": "real", "channel": "webhook", "url": "https://hooks.example.com/x"})
    pointed = sink.point_config(data)
    by_name = {r["name"]: r for r in pointed["receivers"]}
    assert by_name["ops-webhook"]["url"] == "http://127.0.0.1:40001/hooks/alertstream"
    assert by_name["ops-pagerduty"]["url"] == "http://127.0.0.1:40001/pagerduty/v2/enqueue"
    assert by_name["ops-email"]["smtp"] == {"host": "127.0.0.1", "port": 40002, "starttls": False}
    assert by_name["real"]["url"] == "https://hooks.example.com/x"
    assert "url" not in by_name["ops-slack"], "Slack's URL comes from its variable (dev sets it)"
    assert data["receivers"][0]["url"] == "http://127.0.0.1:9480/hooks/alertstream", "the input is not changed"
    parse_config(pointed, "derived")  # still a valid config
