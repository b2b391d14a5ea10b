"""A Confluent-compatible schema registry on loopback, for tests: a real HTTP server, not a mock.

It speaks the subset of the Confluent Schema Registry REST API that producers and consumers use —
``POST /subjects/{subject}/versions`` (register, idempotent per subject and schema text),
``GET /schemas/ids/{id}``, ``GET /subjects``, ``GET /subjects/{subject}/versions`` and
``.../versions/latest`` — with the API's content type and error shape (``{"error_code": 40403,
"message": ...}``), optional HTTP basic or bearer authentication (401 / 40101 otherwise) and
optional TLS. :meth:`stop` and :meth:`start` take it down and bring it back **on the same port
with the same ids**, which is what a registry outage looks like to a client.
"""

from __future__ import annotations

import base64
import io
import json
import ssl
import struct
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from fastavro import schemaless_writer

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryServer:
    def __init__(
        self,
        *,
        basic: tuple[str, str] | None = None,
        bearer: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.basic = basic
        self.bearer = bearer
        self.tls = tls
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        #: every request as (method, path, the Authorization header or "")
        self.requests: list[tuple[str, str, str]] = []
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> RegistryServer:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                return

            def do_GET(self) -> None:
                registry._handle(self, "GET")

            def do_POST(self) -> None:
                registry._handle(self, "POST")

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, name="test-registry", daemon=True).start()
        return self

    def stop(self) -> None:
        """Take the registry down (connections are refused); :meth:`start` brings it back."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def register(self, subject: str, schema: Mapping[str, Any]) -> int:
        """Register ``schema`` under ``subject`` as another producer would; returns its id."""
        text = json.dumps(schema)
        with self._lock:
            schema_id = next((i for i, known in self.schemas.items() if known == text), len(self.schemas) + 1)
            self.schemas[schema_id] = text
            versions = self.subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
        return schema_id

    # -- HTTP -------------------------------------------------------------------------------------

    def _authorized(self, header: str) -> bool:
        if self.basic is not None:
            expected = base64.b64encode(f"{self.basic[0]}:{self.basic[1]}".encode()).decode()
            return header == f"Basic {expected}"
        if self.bearer is not None:
            return header == f"Bearer {self.bearer}"
        return True

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(request.path).path
        auth = request.headers.get("Authorization", "")
        self.requests.append((method, path, auth))
        if not self._authorized(auth):
            return _reply(request, 401, {"error_code": 40101, "message": "Unauthorized"})
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if method == "POST" and len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
            length = int(request.headers.get("Content-Length") or 0)
            body = json.loads(request.rfile.read(length) or b"{}")
            if body.get("schemaType", "AVRO") != "AVRO":
                return _reply(request, 422, {"error_code": 42201, "message": "Only AVRO here"})
            return _reply(request, 200, {"id": self.register(parts[1], json.loads(body["schema"]))})
        if method == "GET" and len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit():
            text = self.schemas.get(int(parts[2]))
            if text is None:
                return _reply(request, 404, {"error_code": 40403, "message": f"Schema {parts[2]} not found"})
            return _reply(request, 200, {"schema": text})
        if method == "GET" and parts == ["subjects"]:
            return _reply(request, 200, sorted(self.subjects))
        if method == "GET" and len(parts) >= 3 and parts[0] == "subjects" and parts[2] == "versions":
            versions = self.subjects.get(parts[1])
            if versions is None:
                return _reply(request, 404, {"error_code": 40401, "message": f"Subject '{parts[1]}' not found."})
            if len(parts) == 3:
                return _reply(request, 200, list(range(1, len(versions) + 1)))
            if len(parts) == 4 and parts[3] == "latest":
                schema_id = versions[-1]
                latest = {"subject": parts[1], "version": len(versions), "id": schema_id}
                return _reply(request, 200, {**latest, "schema": self.schemas[schema_id]})
        return _reply(request, 404, {"error_code": 404, "message": "HTTP 404 Not Found"})


def _reply(request: BaseHTTPRequestHandler, status: int, body: object) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", CONTENT_TYPE)
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)


def confluent_frame(schema_id: int, schema: Mapping[str, Any], record: Mapping[str, Any]) -> bytes:
    """A record in the Confluent wire format, written without alertstream's codec (another producer)."""
    out = io.BytesIO()
    out.write(struct.pack(">bI", 0, schema_id))
    schemaless_writer(out, dict(schema), dict(record))
    return out.getvalue()
