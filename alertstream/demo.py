"""The demo producer of `alertstream dev`: plausible metric and drift events at a steady rate.

Values mostly sit in the normal band with occasional excursions past the example config's
warning/critical thresholds and back, so rules fire, deduplicate and resolve while you watch.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka import Producer

from alertstream.background import BackgroundLoop
from alertstream.runtime.kafka_clients import producer_config
from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.events import DriftEvent, MetricEvent
from alertstream.schemas.topics import TopicNames

TENANTS = ("acme-health", "globex-clinic")
#: metric -> (normal low, normal high, excursion value)
METRICS = {
    "cpu_percent": (20.0, 60.0, 95.0),
    "memory_percent": (40.0, 70.0, 92.0),
    "api_response_seconds": (0.05, 0.8, 6.0),
    "cache_hit_rate": (0.8, 0.97, 0.4),
    "db_pool_utilization": (0.2, 0.6, 0.97),
    "model_server_latency_seconds": (1.0, 6.0, 35.0),
}
DRIFTS = {"DENIAL_RATE": (0.08, 0.2), "UNDERPAYMENT": (2.0, 14.0), "PAYMENT_DELAY": (18.0, 40.0)}
PAYERS = ("aetna", "cigna", "medicare")


def demo_events(rng: random.Random) -> Iterator[MetricEvent | DriftEvent]:
    """An endless, deterministic-for-a-seed stream of events; about 1 in 40 is an excursion."""
    tick = 0
    while True:
        tick += 1
        now = int(time.time() * 1000)
        tenant = rng.choice(TENANTS)
        if tick % 10 == 0:
            kind = rng.choice(list(DRIFTS))
            baseline, bad = DRIFTS[kind]
            current = bad if rng.random() < 0.1 else baseline * rng.uniform(0.95, 1.05)
            yield DriftEvent(
                event_id=str(uuid.uuid4()),
                tenant=tenant,
                drift_type=kind,
                payer=rng.choice(PAYERS),
                baseline_value=baseline,
                current_value=current,
                occurred_at=now,
                sample_count=rng.randint(50, 500),
            )
            continue
        metric = rng.choice(list(METRICS))
        low, high, spike = METRICS[metric]
        value = spike if rng.random() < 0.025 else rng.uniform(low, high)
        yield MetricEvent(
            event_id=str(uuid.uuid4()),
            tenant=tenant,
            metric=metric,
            value=value,
            source=f"{metric.split('_')[0]}-{rng.randint(1, 3)}",
            occurred_at=now,
            labels={"env": "demo"},
        )


@dataclass
class DemoProducer(BackgroundLoop):
    """Publishes ``rate`` events/s on a background thread until stopped."""

    bootstrap: str
    topics: TopicNames
    rate: float = 20.0
    sent: int = 0

    thread_name = "demo-producer"

    def _run(self) -> None:
        codec = Codec()
        producer = Producer(producer_config(self.bootstrap, logger=logging.getLogger("librdkafka")))
        events = demo_events(random.Random(7))
        while not self._stop.wait(1.0 / self.rate):
            event = next(events)
            if isinstance(event, MetricEvent):
                value = codec.encode(c.METRIC_EVENT, event.to_record())
                producer.produce(self.topics.events_metric, value=value, key=event.key())
            else:
                value = codec.encode(c.DRIFT_EVENT, event.to_record())
                producer.produce(self.topics.events_drift, value=value, key=event.key())
            producer.poll(0)
            self.sent += 1
        producer.flush(10)
