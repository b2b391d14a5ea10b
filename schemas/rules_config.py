"""Config models owned by the evaluator (streams/): rules and the routing tree.

Placeholder shapes pinned by the foundation so the file validates end to end; the evaluator issue
replaces them with the full rule language (thresholds, drift, for/hysteresis, dedup windows).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    id: str = Field(min_length=1, max_length=128)
    tenant: str | None = None


class RouteNode(_Strict):
    receiver: str | None = None
    match: dict[str, str] = Field(default_factory=dict)
    routes: list[RouteNode] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")
