"""The config file's JSON Schema (`alertstream config schema`), for editors that validate YAML.

Generated from the same pydantic models :func:`alertstream.schemas.config.load_config` validates
with, so the two cannot drift: unknown keys are refused (``additionalProperties: false``), types,
enums and bounds are the models'. What a schema cannot say — cross-field checks such as routes
naming unknown receivers, duplicate ids, the SSRF policy — is left to ``alertstream config validate``.
Point an editor at it, e.g. VS Code's YAML extension: ``# yaml-language-server: $schema=alertstream.schema.json``
on the config's first line, after ``alertstream config schema > alertstream.schema.json``.
"""

from __future__ import annotations

from typing import Any

from alertstream.schemas.config import AlertstreamConfig

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def config_json_schema() -> dict[str, Any]:
    schema = AlertstreamConfig.model_json_schema(mode="validation")
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "alertstream config (ALERTSTREAM_CONFIG)",
        **{k: v for k, v in schema.items() if k != "title"},
    }
