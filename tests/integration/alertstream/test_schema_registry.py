"""The Confluent wire format through our HTTP registry client, against a registry served on loopback.

The server implements the two endpoints of the Confluent Schema Registry API the codec uses
(register under a subject, fetch by id) with the API's content type and error shape.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.errors import CodecError
from alertstream.schemas.registry import HttpSchemaRegistry

pytestmark = pytest.mark.integration


class _Registry(BaseHTTPRequestHandler):
    schemas: dict[int, str] = {}
    requests: list[str] = []

    def log_message(self, *_args: object) -> None:
        return

    def _reply(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.requests.append(f"POST {self.path}")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = body["schema"]
        for schema_id, known in self.schemas.items():
            if known == text:
                return self._reply(200, {"id": schema_id})
        schema_id = len(self.schemas) + 1
        self.schemas[schema_id] = text
        return self._reply(200, {"id": schema_id})

    def do_GET(self) -> None:
        self.requests.append(f"GET {self.path}")
        schema_id = int(self.path.rsplit("/", 1)[1])
        if schema_id not in self.schemas:
            return self._reply(404, {"error_code": 40403, "message": "Schema not found"})
        return self._reply(200, {"schema": self.schemas[schema_id]})


@pytest.fixture
def registry_url() -> Iterator[str]:
    _Registry.schemas = {}
    _Registry.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_confluent_format_over_http(registry_url: str) -> None:
    record = {
        "event_id": "e",
        "tenant": "t",
        "metric": "cpu_percent",
        "value": 1.0,
        "source": "s",
        "labels": {},
        "occurred_at": 5,
    }
    writer_client = HttpSchemaRegistry(registry_url)
    writer = Codec(writer_client)
    first = writer.encode(c.METRIC_EVENT, record, topic="events.metric")
    writer.encode(c.METRIC_EVENT, record, topic="events.metric")  # cached: no second registration
    assert first[:5] == b"\x00\x00\x00\x00\x01"
    assert _Registry.requests == ["POST /subjects/events.metric-value/versions"]

    reader_client = HttpSchemaRegistry(registry_url)
    reader = Codec(reader_client)
    assert reader.decode(first, c.METRIC_EVENT) == record
    assert reader.decode(first, c.METRIC_EVENT) == record  # cached: one GET
    assert _Registry.requests[1:] == ["GET /schemas/ids/1"]

    with pytest.raises(CodecError) as err:
        reader.decode(b"\x00\x00\x00\x00\x09" + first[5:], c.METRIC_EVENT)
    assert err.value.reason == "unknown_schema"
    writer_client.close()
    reader_client.close()
