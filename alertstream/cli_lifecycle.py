"""CLI commands of the alert lifecycle (`alerts ack|unack|resolve`, `silences add|list|expire`,
`oncall`), registered by alertstream.cli.

They talk to the same topics as the API (no API key needed: whoever runs them has the broker and
the database): an action or a silence is published to its compacted topic and the command returns
once the broker acknowledged it; the worker applies it and the store audits it with the actor
``cli:<os user>``. `alerts` looks the alert up in the history (PostgreSQL); `silences list` reads the
silences topic to its end; `oncall` answers from the config file (``ALERTSTREAM_CONFIG``).
"""

from __future__ import annotations

import getpass
import json
import threading
import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from alertstream.cli_time import parse_duration, parse_instant
from alertstream.runtime.settings import Settings
from alertstream.schemas.actions import Action, ActionKind, new_action
from alertstream.schemas.matchers import MatcherError, alert_labels, matches_all, parse_matcher, parse_matchers
from alertstream.schemas.silences import Silence, SilenceError, new_silence

app = typer.Typer(no_args_is_help=True)
alerts_app = typer.Typer(no_args_is_help=True, help="Acknowledge, unacknowledge or resolve alerts.")
silences_app = typer.Typer(no_args_is_help=True, help="Silences: matchers, start, end, comment.")
app.add_typer(alerts_app, name="alerts")
app.add_typer(silences_app, name="silences")

Match = Annotated[
    list[str] | None, typer.Option("--match", "-m", help='a matcher, e.g. alertname="cpu-high" (repeatable)')
]
Comment = Annotated[str, typer.Option(help="why (kept in the audit log)")]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()[:64]}"
    except (KeyError, OSError):
        return "cli:unknown"


def _produce(settings: Settings, topic: str, key: bytes, value: bytes) -> None:
    from confluent_kafka import Producer

    from alertstream.runtime.kafka_clients import producer_config

    producer = Producer(producer_config(settings.require_bootstrap()))
    producer.produce(topic, key=key, value=value)
    if producer.flush(30):
        typer.echo(f"error: {topic} did not acknowledge", err=True)
        raise typer.Exit(3)


def _targets(dsn: str, alert_id: str | None, match: list[str]) -> list[tuple[str, str, str]]:
    """(fingerprint, tenant, alert id) of the alert named, or of every open alert the matchers select."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        if alert_id is not None:
            row = conn.execute(
                "SELECT fingerprint, tenant, alert_id FROM alerts WHERE alert_id = %s", (alert_id,)
            ).fetchone()
            if row is None:
                typer.echo(f"error: no alert {alert_id!r}", err=True)
                raise typer.Exit(1)
            return [(row["fingerprint"], row["tenant"], row["alert_id"])]
        rows = conn.execute(
            "SELECT DISTINCT ON (fingerprint) alert_id, fingerprint, tenant, rule_id, severity, entity, labels, status"
            " FROM alerts WHERE last_seen > now() - interval '30 days'"
            " ORDER BY fingerprint, emitted_at DESC NULLS LAST, alert_id DESC"
        ).fetchall()
    try:
        matchers = [parse_matcher(m) for m in match]
    except MatcherError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    return [
        (r["fingerprint"], r["tenant"], r["alert_id"])
        for r in rows
        if r["status"] == "firing" and matches_all(matchers, alert_labels(r))
    ]


def _act(kind: ActionKind, alert_id: str | None, match: list[str] | None, comment: str) -> None:
    if (alert_id is None) == (not match):
        typer.echo("error: give an ALERT_ID or --match matchers (not both)", err=True)
        raise typer.Exit(2)
    settings = Settings()
    targets = _targets(settings.require_database(), alert_id, match or [])
    actor = _actor()
    for fp, tenant, aid in targets:
        action: Action = new_action(kind, fp, tenant, actor, int(time.time() * 1000), comment, aid)
        _produce(settings, settings.topics.actions, fp.encode(), action.to_json())
        typer.echo(json.dumps({"action_id": action.action_id, "kind": kind, "fingerprint": fp, "alert_id": aid}))
    typer.echo(f"{kind}: {len(targets)} alert(s)", err=True)


@alerts_app.command("ack")
def ack(alert_id: Annotated[str | None, typer.Argument()] = None, match: Match = None, comment: Comment = "") -> None:
    """Acknowledge: no more re-notifications or escalation; PagerDuty gets `acknowledge`."""
    _act("acknowledge", alert_id, match, comment)


@alerts_app.command("unack")
def unack(alert_id: Annotated[str | None, typer.Argument()] = None, match: Match = None, comment: Comment = "") -> None:
    """Withdraw an acknowledgement: the escalation policy starts again."""
    _act("unacknowledge", alert_id, match, comment)


@alerts_app.command("resolve")
def resolve(
    alert_id: Annotated[str | None, typer.Argument()] = None, match: Match = None, comment: Comment = ""
) -> None:
    """Resolve the alert's episode now (its resolve is sent); a new breach opens a new episode."""
    _act("resolve", alert_id, match, comment)


def read_silences(settings: Settings, timeout: float = 15.0) -> dict[str, Silence]:
    """Every silence on the topic (read to its end)."""
    from alertstream.runtime.topic_follower import TopicFollower

    found: dict[str, Silence] = {}
    lock = threading.Lock()

    def on(key: bytes | None, value: bytes | None, _p: int, _o: int) -> None:
        with lock:
            if value is None:
                if key is not None:
                    found.pop(key.decode("utf-8", "replace"), None)
                return
            try:
                s = Silence.from_json(value)
            except SilenceError:
                return
            found[s.id] = s

    follower = TopicFollower(settings.require_bootstrap(), settings.topics.silences, on, "cli-silences")
    follower.start()
    try:
        if not follower.wait_caught_up(timeout):
            typer.echo(f"error: {settings.topics.silences} not read to its end in {timeout:.0f}s", err=True)
            raise typer.Exit(3)
    finally:
        follower.stop()
    with lock:
        return dict(found)


def _show(s: Silence, now: int) -> str:
    def t(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    return json.dumps(
        {
            "id": s.id,
            "state": s.state(now),
            "matchers": [str(m) for m in s.matchers],
            "starts_at": t(s.starts_at),
            "ends_at": t(s.ends_at),
            "created_by": s.created_by,
            "comment": s.comment,
        }
    )


@silences_app.command("add")
def silences_add(
    matchers: Annotated[list[str], typer.Argument(help='e.g. tenant=acme alertname=~"db-.*"')],
    duration: Annotated[str, typer.Option(help="how long, e.g. 2h (from --start)")] = "1h",
    start: Annotated[str | None, typer.Option(help="RFC 3339 (default now)")] = None,
    until: Annotated[str | None, typer.Option(help="RFC 3339 end (instead of --duration)")] = None,
    comment: Comment = "",
) -> None:
    """Create a silence; prints it (with its id)."""
    settings = Settings()
    now = int(time.time() * 1000)
    try:
        parsed = [m for text in matchers for m in parse_matchers(text)]
        starts = parse_instant(start) if start else now
        ends = parse_instant(until) if until else starts + parse_duration(duration)
        silence = new_silence(parsed, starts, ends, _actor(), comment, now)
    except (MatcherError, SilenceError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    _produce(settings, settings.topics.silences, silence.id.encode(), silence.to_json())
    typer.echo(_show(silence, now))


@silences_app.command("list")
def silences_list(
    all_: Annotated[bool, typer.Option("--all", help="expired ones too")] = False,
) -> None:
    """One JSON line per silence (active and pending; --all: expired too)."""
    now = int(time.time() * 1000)
    for s in sorted(read_silences(Settings()).values(), key=lambda s: s.ends_at, reverse=True):
        if all_ or s.state(now) != "expired":
            typer.echo(_show(s, now))


@silences_app.command("expire")
def silences_expire(silence_id: Annotated[str, typer.Argument()]) -> None:
    """End a silence now: still-firing alerts it held are notified at once."""
    settings = Settings()
    known = read_silences(settings).get(silence_id)
    if known is None:
        typer.echo(f"error: no silence {silence_id!r}", err=True)
        raise typer.Exit(1)
    now = int(time.time() * 1000)
    ended = known.expired(now)
    if ended is not known:
        _produce(settings, settings.topics.silences, ended.id.encode(), ended.to_json())
    typer.echo(_show(ended, now))


@app.command("oncall")
def oncall(
    schedule: Annotated[str | None, typer.Argument(help="a schedule name (default: every schedule)")] = None,
    at: Annotated[str | None, typer.Option(help="RFC 3339 (default now)")] = None,
) -> None:
    """Who is on call now (or at --at), per schedule of the config (ALERTSTREAM_CONFIG)."""
    from alertstream.schemas.config import load_config
    from alertstream.schemas.oncall import on_call

    config = load_config(Settings().config)
    when = datetime.fromtimestamp(parse_instant(at) / 1000, tz=UTC) if at else datetime.now(tz=UTC)
    chosen = [s for s in config.schedules if schedule is None or s.name == schedule]
    if schedule is not None and not chosen:
        typer.echo(f"error: no schedule {schedule!r} in the config", err=True)
        raise typer.Exit(1)
    for s in chosen:
        answer = on_call(s, when)
        typer.echo(
            json.dumps(
                {
                    "schedule": s.name,
                    "at": when.isoformat().replace("+00:00", "Z"),
                    "participant": answer.participant,
                    "source": answer.source,
                    "shift_start": answer.shift_start.isoformat() if answer.shift_start else None,
                }
            )
        )
