"""Fixtures of the API tests: a migrated schema with history written the way the store writes it,
API keys for two tenants and an admin, and the API served by uvicorn on loopback, with its broker
(own topics) for the lifecycle writes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from alertstream.api.keys import create_key
from alertstream.api.lifecycle_bus import BusConfig
from alertstream.api.pipeline import Pipeline
from alertstream.api.server import ApiServer
from alertstream.local_stack import StackInfo
from alertstream.runtime.topic_admin import create_topics
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import load_config
from alertstream.schemas.topics import TopicNames
from tests.integration.api.history_data import History, write_history
from tests.integration.consumers.helpers import schema_dsn


@dataclass(frozen=True)
class Api:
    url: str
    dsn: str
    history: History
    pipeline: Pipeline
    acme: str  # tenant key of acme
    globex: str  # tenant key of globex
    admin: str

    def client(self, key: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def api_dsn(stack: StackInfo) -> str:
    return schema_dsn(stack.database_url)


@pytest.fixture(scope="module")
def api(api_dsn: str, stack: StackInfo) -> Iterator[Api]:
    """The API on the history, connected to the broker (its own topic prefix: /api/v2, DLQs)."""
    history = write_history(api_dsn)
    acme = create_key(api_dsn, "acme", "acme test key").key
    globex = create_key(api_dsn, "globex", "globex test key").key
    admin = create_key(api_dsn, None, "admin test key").key
    config = load_config(None)
    topics = TopicNames(f"t{uuid.uuid4().hex[:10]}.")
    create_topics(stack.bootstrap, config, topics)
    pipeline = Pipeline(topics, Codec(), config, stack.bootstrap)
    # with a broker: /api/v2, the DLQs and the lifecycle's write endpoints publish for real
    with ApiServer(api_dsn, pipeline=pipeline, bus=BusConfig(stack.bootstrap, topics, config)) as server:
        yield Api(server.url, api_dsn, history, pipeline, acme, globex, admin)
