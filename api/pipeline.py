"""What the API needs of the pipeline beside the history: the broker (``POST /api/v2/alerts``
publishes to ``events.alerts``; the DLQ endpoints read and replay DLQ topics), the topic names,
the one codec and the config (receivers, routes, ``external_alerts``).

Without a broker (``bootstrap`` None: the history-only API of the tests and benches) the
endpoints that need one answer 503; everything else works.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from alertstream.api.problems import ApiProblem
from alertstream.api.publisher import AlertPublisher
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import AlertstreamConfig
from alertstream.schemas.topics import TopicNames


@dataclass
class Pipeline:
    topics: TopicNames = field(default_factory=TopicNames)
    codec: Codec = field(default_factory=Codec)
    config: AlertstreamConfig = field(default_factory=AlertstreamConfig)
    bootstrap: str | None = None
    publisher: AlertPublisher | None = None

    def start(self) -> None:
        """Open the producer (from the app's lifespan)."""
        if self.bootstrap is not None and self.publisher is None:
            self.publisher = AlertPublisher(
                self.bootstrap, self.topics.events_alerts, self.config.topics.max_message_bytes
            )
            self.publisher.start()

    async def close(self) -> None:
        if self.publisher is not None:
            await self.publisher.close()
            self.publisher = None


def pipeline_of(request: Request) -> Pipeline:
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


def broker_of(request: Request) -> tuple[Pipeline, str, AlertPublisher]:
    """The pipeline of an endpoint that needs the broker, or a 503 problem."""
    pipeline = pipeline_of(request)
    if pipeline.bootstrap is None or pipeline.publisher is None:
        raise ApiProblem(
            503, "this API process is not connected to a broker (ALERTSTREAM_KAFKA_BOOTSTRAP)", "unavailable"
        )
    return pipeline, pipeline.bootstrap, pipeline.publisher
