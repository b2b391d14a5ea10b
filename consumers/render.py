"""Payload rendering for the HTTP channels: pure functions of an alert (and a delivery id).

* webhook: the alert as JSON (``details`` parsed back into an object) plus ``delivery_id``.
* slack: incoming-webhook JSON with a plain ``text`` fallback and Block Kit blocks.
* pagerduty: Events API v2 — ``dedup_key`` = fingerprint, ``trigger``/``acknowledge``/``resolve``
  (an ``acknowledged`` record — a user acknowledged the alert — is PagerDuty's ``acknowledge`` on the
  same dedup key), ≤ 512 KB.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from string import Template
from typing import Any

PAGERDUTY_MAX_BYTES = 512 * 1024
PAGERDUTY_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}
_SLACK_EMOJI = {"critical": ":red_circle:", "warning": ":warning:", "info": ":information_source:"}
_MAX_DETAIL_FIELDS = 10


def _details(alert: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(alert.get("details") or "{}")
    except ValueError:
        return {"raw": str(alert.get("details"))[:1024]}
    return value if isinstance(value, dict) else {"value": value}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def template_fields(alert: dict[str, Any]) -> dict[str, str]:
    """Alert fields as strings for ``$name`` templates (link, e-mail subject/body)."""
    fields = {k: "" if v is None else str(v) for k, v in alert.items() if not isinstance(v, list | dict)}
    fields["first_seen"] = _iso(int(alert.get("first_seen", 0)))
    fields["last_seen"] = _iso(int(alert.get("last_seen", 0)))
    fields["details"] = json.dumps(_details(alert), indent=2, ensure_ascii=False)
    return fields


def webhook_body(alert: dict[str, Any], delivery_id: str) -> bytes:
    body = dict(alert)
    body["details"] = _details(alert)
    body["delivery_id"] = delivery_id
    return _dumps(body)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(alert: dict[str, Any], link_template: str | None = None) -> bytes:
    sev, status = alert["severity"], alert["status"]
    summary = _slack_escape(alert["summary"])
    title = f"[{sev.upper()}] {'RESOLVED' if status == 'resolved' else 'FIRING'}: {alert['rule_id']}"
    text = f"{_SLACK_EMOJI.get(sev, '')} {_slack_escape(title)} — {summary}".strip()
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary[:3000] or " "}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Severity*\n{_slack_escape(sev)}"},
                {"type": "mrkdwn", "text": f"*Status*\n{_slack_escape(status)}"},
                {"type": "mrkdwn", "text": f"*Tenant*\n{_slack_escape(alert['tenant'])[:200]}"},
                {"type": "mrkdwn", "text": f"*Entity*\n{_slack_escape(alert.get('entity') or '-')[:200]}"},
            ],
        },
    ]
    details = list(_details(alert).items())[:_MAX_DETAIL_FIELDS]
    if details:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{_slack_escape(str(k))[:50]}*\n{_slack_escape(str(v))[:200]}"}
                    for k, v in details
                ],
            }
        )
    if link_template:
        link = Template(link_template).safe_substitute(template_fields(alert))
        if link.startswith(("https://", "http://")):
            blocks.append(
                {
                    "type": "actions",
                    "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": link}],
                }
            )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"fingerprint `{_slack_escape(alert['fingerprint'])[:64]}` · "
                    f"occurrences {alert.get('occurrence_count', 1)} · last seen {_iso(int(alert['last_seen']))}",
                }
            ],
        }
    )
    return _dumps({"text": text, "blocks": blocks})


def pagerduty_body(alert: dict[str, Any], routing_key: str, delivery_id: str) -> bytes:
    """Events API v2 event; oversized custom_details are cut so the event stays ≤ 512 KB."""
    if alert["status"] == "resolved":
        action = "resolve"
    elif alert.get("event") == "acknowledged":
        action = "acknowledge"
    else:
        action = "trigger"
    event: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": alert["fingerprint"]}
    if action == "trigger":
        event["payload"] = {
            "summary": alert["summary"][:1024] or alert["rule_id"],
            "source": (alert.get("entity") or alert["tenant"])[:255],
            "severity": PAGERDUTY_SEVERITY.get(alert["severity"], "warning"),
            "timestamp": _iso(int(alert["last_seen"])),
            "component": alert["rule_id"][:255],
            "group": alert["tenant"][:255],
            "class": alert["rule_id"][:255],
            "custom_details": {
                "delivery_id": delivery_id,
                "alert_id": alert["alert_id"],
                "value": alert.get("value"),
                "threshold": alert.get("threshold"),
                "occurrence_count": alert.get("occurrence_count"),
                "labels": alert.get("labels") or {},
                "details": _details(alert),
            },
        }
    body = _dumps(event)
    if len(body) > PAGERDUTY_MAX_BYTES:
        event["payload"]["custom_details"] = {
            "delivery_id": delivery_id,
            "alert_id": alert["alert_id"],
            "truncated": "custom details exceeded the 512 KB event limit",
        }
        body = _dumps(event)
    return body
