"""GET a process's /healthz, /readyz or /metrics from outside, as a kubelet or Prometheus would."""

from __future__ import annotations

import urllib.error
import urllib.request


def probe(port: int, path: str, timeout: float = 2.0) -> tuple[int, str] | None:
    """(status, body) of GET ``path`` on loopback ``port``; None while nothing answers there."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:  # it holds the connection: left open, the GC warns in some later test
            return exc.code, exc.read().decode()
    except OSError:
        return None
