"""The console's pure JavaScript (the event-stream parser, feature detection, matcher shapes, the
list's filters), run with node's own test runner when node is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

NODE = shutil.which("node")
HERE = Path(__file__).parent


@pytest.mark.skipif(NODE is None, reason="needs node (Debian's nodejs) to run the console's JavaScript tests")
def test_the_consoles_javascript() -> None:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--experimental-default-type=module", "--test", str(HERE / "console_js.test.mjs")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout
    assert "# pass 7" in done.stdout
