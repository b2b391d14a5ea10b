"""`db migrate` with no migration files is an error (a broken build), not "up to date"."""

from __future__ import annotations

import pytest

from alertstream.consumers.db import MissingMigrations, migrate, migration_files


def test_the_package_has_its_migrations() -> None:
    assert [p.name for p in migration_files()][:1] == ["001_delivery.sql"]


def test_no_migration_files_is_an_error_before_connecting() -> None:
    # an unreachable DSN: the check must come first, so nothing is attempted
    with pytest.raises(MissingMigrations, match="no migration files"):
        migrate("postgresql://nobody@127.0.0.1:1/none", files=[])
