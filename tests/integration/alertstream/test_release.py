"""What a release contains: the wheel, installed into a fresh virtualenv without any extras, runs.

The same two steps the Dockerfile runs (`pip wheel --no-deps .`, then `pip install` of the wheel),
then the commands an operator runs first: `--help`, `config validate`, `db migrate` (the tables
exist afterwards) and `topics create` (the topics exist afterwards). Built once per session: the
build and the install of the runtime dependencies take most of a minute.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from confluent_kafka.admin import AdminClient
from psycopg import sql

from alertstream.consumers.db import with_search_path
from alertstream.local_stack import StackInfo

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False, **kw)  # type: ignore[call-overload, no-any-return]


def _dockerfile_sources() -> list[str]:
    """What the Dockerfile's build stage copies into its context (``COPY <src> ./<src>``)."""
    out = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["COPY"] and "--from=build" not in parts:
            out += parts[1:-1]
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("release")
    # Build from exactly what the Dockerfile copies (a folder missing there fails here too), in a
    # copy: setuptools leaves build/ and *.egg-info behind in the tree it builds.
    src = tmp / "src"
    src.mkdir()
    for name in _dockerfile_sources():
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        else:
            shutil.copy2(origin, src / name)
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp / "dist"), "."], cwd=src
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp / "dist").glob("alertstream-*.whl")
    venv = tmp / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)])
    assert made.returncode == 0, made.stderr
    done = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)], cwd=tmp)
    assert done.returncode == 0, done.stderr[-2000:]
    return Installed(wheel, venv / "bin")


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ALERTSTREAM_", "PYTHON"))}
    return {**base, **extra}


def test_wheel_has_one_import_package_and_its_data_files(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as whl:
        names = whl.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/RECORD"))
        top_level = whl.read(f"{dist_info}/top_level.txt").decode().split()
        record = [row[0] for row in csv.reader(whl.read(f"{dist_info}/RECORD").decode().splitlines())]
    assert top_level == ["alertstream"]
    assert {path.split("/")[0] for path in record} == {"alertstream", dist_info}
    assert "alertstream/consumers/migrations/001_delivery.sql" in record
    assert "alertstream/consumers/migrations/004_api_keys.sql" in record
    assert "alertstream/api/app.py" in record
    assert "alertstream/schemas/alertstream.v1.Alert.avsc" in record
    assert "alertstream/schemas/example-config.yaml" in record
    assert "alertstream/py.typed" in record
    # setup.py's mypyc modules are compiled into the wheel (the build stage has gcc)
    assert any(p.startswith("alertstream/schemas/avro_binary.cpython-") and p.endswith(".so") for p in record), record
    assert f"{dist_info}/licenses/LICENSE" in record


def test_installed_package_does_not_claim_generic_names(installed: Installed, tmp_path: Path) -> None:
    names = "('schemas', 'streams', 'consumers', 'runtime')"
    probe = f"import importlib.util as u; print([n for n in {names} if u.find_spec(n)])"
    done = _run([str(installed.bin / "python"), "-c", probe], cwd=tmp_path, env=_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_installed_codec_writes_with_the_compiled_writer(installed: Installed, tmp_path: Path) -> None:
    probe = (
        "from alertstream.schemas import avro_binary, codec as c; codec = c.Codec();"
        " print(avro_binary.__file__); print(codec.current[c.EXTERNAL_ALERT].plan is not None)"
    )
    done = _run([str(installed.bin / "python"), "-c", probe], cwd=tmp_path, env=_env())
    assert done.returncode == 0, done.stderr
    path, planned = done.stdout.split()
    assert path.startswith(str(installed.bin.parent)), path
    assert path.endswith(".so"), path
    assert planned == "True"


def test_help_and_config_validate(installed: Installed, tmp_path: Path) -> None:
    help_ = _run([str(installed.bin / "alertstream"), "--help"], cwd=tmp_path, env=_env())
    assert help_.returncode == 0, help_.stderr
    for command in ("worker", "deliver", "store", "publish", "topics", "config", "dlq", "db", "bench", "dev"):
        assert f" {command} " in help_.stdout
    example = _run(
        [
            str(installed.bin / "python"),
            "-c",
            "from alertstream.schemas.config import EXAMPLE_CONFIG; print(EXAMPLE_CONFIG)",
        ],
        cwd=tmp_path,
        env=_env(),
    )
    path = example.stdout.strip()
    assert path.startswith(str(installed.bin.parent)), path  # the installed copy, not the checkout
    done = _run([str(installed.bin / "alertstream"), "config", "validate", path], cwd=tmp_path, env=_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{path}: ok (version 1, 9 rules, 4 receivers)")


def test_db_migrate_creates_the_tables(installed: Installed, stack: StackInfo, tmp_path: Path) -> None:
    schema = f"rel_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    dsn = with_search_path(stack.database_url, schema)
    cmd = [str(installed.bin / "alertstream"), "db", "migrate"]
    first = _run(cmd, cwd=tmp_path, env=_env(ALERTSTREAM_DATABASE_URL=dsn))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("applied 001_delivery")
    with psycopg.connect(stack.database_url) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
            ).fetchall()
        }
    assert {"alerts", "delivery_ledger", "delivery_outcomes", "alertstream_migrations"} <= tables
    again = _run(cmd, cwd=tmp_path, env=_env(ALERTSTREAM_DATABASE_URL=dsn))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "database is up to date"


def test_topics_create_against_the_broker(installed: Installed, stack: StackInfo, tmp_path: Path) -> None:
    prefix = f"rel{uuid.uuid4().hex[:8]}."
    env = _env(ALERTSTREAM_KAFKA_BOOTSTRAP=stack.bootstrap, ALERTSTREAM_TOPIC_PREFIX=prefix)
    done = _run([str(installed.bin / "alertstream"), "topics", "create"], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    created = {line.strip()[2:] for line in done.stdout.splitlines() if line.startswith("  + ")}
    listed = {
        t
        for t in AdminClient({"bootstrap.servers": stack.bootstrap}).list_topics(timeout=10).topics
        if t.startswith(prefix)
    }
    assert created == listed
    assert len(listed) == 32  # incl. events.alerts and the lifecycle's silences, actions, firing
    assert f"{prefix}alerts" in listed
