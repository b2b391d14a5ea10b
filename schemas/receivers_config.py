"""Config models owned by the consumers (consumers/): receivers and delivery/retry settings.

Placeholder shapes pinned by the foundation; the consumers issue fills in each channel's fields.
Secrets are referenced (``secret_env``/``secret_file``), never written in the file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Receiver(_Strict):
    name: str = Field(min_length=1, max_length=128)
    channel: Literal["webhook", "slack", "pagerduty", "email"]


class DeliverySection(_Strict):
    #: Delay of each retry tier in seconds; tier n is topic ``alerts.<channel>.retry.<n>``.
    retry_delays_seconds: list[float] = Field(default_factory=lambda: [10.0, 60.0, 600.0, 3600.0], min_length=1)
