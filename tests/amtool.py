"""`amtool alert query` (Debian's prometheus-alertmanager package, 0.25) against an API, JSON output.

The version check is included: amtool asks ``/api/v2/status`` first, so a wrong status shape fails
the query too."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

AMTOOL = shutil.which("amtool")


def query(url: str, key: str, workdir: Path, *args: str) -> list[dict[str, Any]]:
    """The alerts amtool lists with ``args`` (matchers and flags), authenticated with ``key``."""
    assert AMTOOL is not None, "amtool is not installed"
    http_config = workdir / f"amtool-{key[4:16]}.yml"
    http_config.write_text(yaml.safe_dump({"authorization": {"type": "Bearer", "credentials": key}}))
    done = subprocess.run(
        [
            AMTOOL,
            f"--alertmanager.url={url}",
            f"--http.config.file={http_config}",
            "-o",
            "json",
            "alert",
            "query",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result
