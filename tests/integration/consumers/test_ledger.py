"""The delivery ledger against the real PostgreSQL: one row it cannot take fails only itself."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from alertstream.consumers.ledger import Ledger, SentRow
from alertstream.runtime.settings import Settings
from tests.integration.consumers.helpers import schema_dsn

pytestmark = pytest.mark.integration


def _row(n: int, **over: object) -> SentRow:
    values: dict[str, object] = {
        "delivery_id": f"msg_{n:032x}",
        "channel": "webhook",
        "receiver": "ops",
        "alert_id": f"a-{n}",
        "fingerprint": f"fp-{n}",
        "tenant": "acme",
        "attempt": 1,
        "status_code": 200,
        **over,
    }
    return SentRow(**values)  # type: ignore[arg-type]


async def test_a_row_the_database_refuses_fails_alone_in_its_batch(settings: Settings) -> None:
    assert settings.database_url is not None
    dsn = schema_dsn(settings.database_url.get_secret_value())
    ledger = Ledger(dsn)
    await ledger.open()
    try:
        rows = [_row(1), _row(2, tenant="nul\x00inside"), _row(3, attempt=2**31), _row(4)]
        results = await asyncio.gather(*(ledger.mark_sent(r) for r in rows), return_exceptions=True)
    finally:
        await ledger.close()
    assert [isinstance(r, Exception) for r in results] == [False, True, True, False]
    assert ledger.inserts.calls >= 1
    with psycopg.connect(dsn) as conn:
        stored = sorted(r[0] for r in conn.execute("SELECT delivery_id FROM delivery_ledger").fetchall())
    assert stored == [_row(1).delivery_id, _row(4).delivery_id]
