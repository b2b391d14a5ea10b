"""Alertmanager API v2 shapes (``api/v2/openapi.yaml``), as the API answers them: what Prometheus,
amtool and Alertmanager clients read. Field names are Alertmanager's (camelCase)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class AmReceiver(BaseModel):
    name: str


class AmAlertStatus(BaseModel):
    state: Literal["unprocessed", "active", "suppressed"]
    silencedBy: list[str]
    inhibitedBy: list[str]
    mutedBy: list[str]


class GettableAlert(BaseModel):
    labels: dict[str, str]
    annotations: dict[str, str]
    receivers: list[AmReceiver]
    fingerprint: str
    startsAt: datetime
    updatedAt: datetime
    endsAt: datetime = Field(description="0001-01-01T00:00:00Z when the alert has no known end")
    generatorURL: str = ""
    status: AmAlertStatus


class AlertGroup(BaseModel):
    labels: dict[str, str] = Field(description="the labels the alerts of the group share: alertname")
    receiver: AmReceiver
    alerts: list[GettableAlert]


class PeerStatus(BaseModel):
    name: str
    address: str


class ClusterStatus(BaseModel):
    name: str | None = None
    status: Literal["ready", "settling", "disabled"]
    peers: list[PeerStatus]


class VersionInfo(BaseModel):
    version: str
    revision: str
    branch: str
    buildUser: str
    buildDate: str
    goVersion: str


class AlertmanagerConfig(BaseModel):
    original: str


class AlertmanagerStatus(BaseModel):
    cluster: ClusterStatus
    versionInfo: VersionInfo
    config: AlertmanagerConfig
    uptime: datetime
