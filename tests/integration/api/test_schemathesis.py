"""The API's OpenAPI schema, fuzzed by schemathesis against the running API (real HTTP, real
PostgreSQL): no 5xx, every answer conforms to the schema (status, content type, headers, body).

The schema is taken from the app at import (schemathesis' lazy fixture loader does not work with
pytest 9); the first test proves it is exactly what the server serves at /openapi.json. Bounded
for `make test`: a fixed number of generated cases per operation, derandomized.

Every check runs except ``positive_data_acceptance`` ("a schema-valid request gets a 2xx"): a
cursor the API never issued, or a stats range whose ``since`` is not before ``until``, is valid
by the schema's types yet correctly refused with a 400/422 problem — no schema can say that.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import Case
from schemathesis.checks import positive_data_acceptance

from alertstream.api.app import create_app
from tests.integration.api.conftest import Api

pytestmark = pytest.mark.integration

OPENAPI: dict[str, Any] = create_app("postgresql://schema-only.invalid/none").openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


SEMANTIC = [positive_data_acceptance]


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_fuzzed_schema_is_the_served_one(api: Api) -> None:
    assert httpx.get(f"{api.url}/openapi.json").json() == OPENAPI


@schema.parametrize()
@FUZZ
def test_the_api_conforms_to_its_openapi_schema_and_never_answers_5xx(case: Case, api: Api) -> None:
    case.call_and_validate(base_url=api.url, headers=_auth(api.admin), excluded_checks=SEMANTIC)


@schema.parametrize()
@settings(FUZZ, max_examples=15)
def test_a_tenant_key_gets_only_schema_conforming_answers(case: Case, api: Api) -> None:
    case.call_and_validate(base_url=api.url, headers=_auth(api.globex), excluded_checks=SEMANTIC)
