"""`alertstream backtest`: replay the recorded events through a proposed config before it goes live.

Reads ``events.metric`` / ``events.drift`` / ``events.alerts`` of a time window (and the silences
and user actions the lifecycle applies) from the broker (read-only: no group
joined, nothing committed, nothing produced), runs the worker's evaluator once per config in one
pass, and reports the difference (:mod:`alertstream.backtest.report`). Exit codes: 0 done, 1 a
runtime failure (broker unreachable, …), 2 usage or config error, 3 ``--fail-on-increase``
tripped (the proposed config sends more notifications than allowed).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from alertstream.cli_setup import EXIT_LATER, EXIT_USAGE, kafka_bootstrap, load_settings
from alertstream.cli_time import parse_duration, parse_instant
from alertstream.runtime.settings import Settings
from alertstream.schemas.config import AlertstreamConfig, load_config
from alertstream.schemas.errors import ConfigError

app = typer.Typer(no_args_is_help=True)

EXIT_INCREASE = EXIT_LATER  # the documented 3 (alertstream.cli_setup): a condition it was asked to detect


def _config(path: Path, what: str) -> AlertstreamConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(f"{what}: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


@app.command("backtest")
def backtest(
    config: Annotated[Path, typer.Option("--config", help="the proposed config (YAML)")],
    baseline: Annotated[
        Path | None, typer.Option(help="the config to compare with (default: the config in force on the config topic)")
    ] = None,
    since: Annotated[str | None, typer.Option(help="window = the last DURATION (e.g. 7d, 12h); default 7d")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="window start (RFC 3339 or epoch ms)")] = None,
    to: Annotated[str | None, typer.Option(help="window end (RFC 3339 or epoch ms; default now)")] = None,
    tenant: Annotated[str | None, typer.Option(help="only this tenant's events")] = None,
    warmup: Annotated[
        str, typer.Option(help="replay this much before the window to rebuild state, without counting it")
    ] = "0s",
    out: Annotated[Path | None, typer.Option(help="write the self-contained HTML report here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    fail_on_increase: Annotated[
        int | None, typer.Option(help="exit 3 when the proposed config sends more than N extra notifications")
    ] = None,
    silence: Annotated[
        list[str] | None,
        typer.Option(
            "--silence",
            help="a silence to try with the proposed config, over the whole window: matchers as amtool takes them, "
            'e.g. \'alertname="cpu",entity=~"db-.*"\' (repeatable)',
        ),
    ] = None,
) -> None:
    """Replay a time window of recorded events through a proposed config and show what would change."""
    from alertstream.backtest.history import read_history
    from alertstream.backtest.html import render
    from alertstream.backtest.replay import proposed_silences, replay
    from alertstream.backtest.report import Window, compare, increase
    from alertstream.runtime.codecs import build_codec
    from alertstream.schemas.silences import SilenceError
    from alertstream.streams.evaluator import Compiled

    if since is not None and from_ is not None:
        raise typer.BadParameter("give --since or --from, not both")
    now = int(time.time() * 1000)
    end = parse_instant(to) if to else now
    start = parse_instant(from_) if from_ else end - parse_duration(since or "7d")
    if start >= end:
        raise typer.BadParameter("the window is empty: start is not before end")
    warm = parse_duration(warmup)
    try:
        proposed_held = proposed_silences(silence or [], start - warm, end)
    except SilenceError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None
    settings = load_settings("backtest")
    bootstrap = kafka_bootstrap(settings)
    proposed = _config(config, "--config")
    if baseline is not None:
        base_compiled, base_name = Compiled.from_config(_config(baseline, "--baseline")), str(baseline)
    else:
        base_compiled, base_name = _in_force(bootstrap, settings)
    codec = build_codec(settings, proposed)
    history = read_history(bootstrap, settings.topics, codec, start - warm, end, tenant=tenant)
    outcomes = replay(
        history.events,
        {"baseline": base_compiled, "proposed": Compiled.from_config(proposed)},
        count_from=start,
        until=end,
        lifecycle=history.lifecycle,
        only={"proposed": proposed_held},
    )
    counted = sum(1 for r in history.events if r.at >= start)
    window = Window(start, end, counted, history.invalid, tenant, warm)
    report = compare(outcomes["baseline"], outcomes["proposed"], window)
    if out is not None:
        out.write_text(render(report, base_name, str(config)), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        _print_summary(report, base_name, str(config), out)
    if fail_on_increase is not None and increase(report) > fail_on_increase:
        typer.echo(
            f"proposed config sends {increase(report)} more notifications than the baseline "
            f"(allowed: {fail_on_increase})",
            err=True,
        )
        raise typer.Exit(EXIT_INCREASE)


def _in_force(bootstrap: str, settings: Settings) -> tuple[Any, str]:
    """The config the workers run now: the newest valid document on the config topic."""
    from alertstream.streams.config_feed import ConfigFeed

    try:
        latest = ConfigFeed.in_force(bootstrap, settings.topics.config)
    except TimeoutError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if latest is None:
        typer.echo(f"no config in force on {settings.topics.config}: pass --baseline FILE", err=True)
        raise typer.Exit(EXIT_USAGE)
    return latest, f"config in force (version {latest.version})"


def _print_summary(report: dict[str, Any], base: str, proposed: str, out: Path | None) -> None:
    w, t, d = report["window"], report["totals"], report["delta"]
    lines = [
        f"replayed {w['events']} events ({w['invalid']} invalid skipped)",
        f"baseline: {base} (version {t['baseline']['version']})",
        f"proposed: {proposed} (version {t['proposed']['version']})",
        "",
        f"{'':<28} {'baseline':>9} {'proposed':>9} {'delta':>7}",
    ]
    for k in ("fired", "resolved", "suppressed"):
        lines.append(
            f"{'notifications ' + k if k != 'suppressed' else 'suppressed':<28} "
            f"{t['baseline'][k]:>9} {t['proposed'][k]:>9} {d[k]:>+7}"
        )
    lines += ["", f"{'rule':<28} {'fired':>9} {'proposed':>9} {'delta':>7}"]
    for rule, row in report["by_rule"].items():
        lines.append(
            f"{rule:<28} {row['baseline']['fired']:>9} {row['proposed']['fired']:>9} {row['delta']['fired']:>+7}"
        )
    fp = report["fingerprints"]
    lines += [
        "",
        f"fingerprints: {fp['newly_firing_count']} would newly fire, {fp['stop_firing_count']} would stop firing, "
        f"{fp['severity_changed_count']} would change severity",
    ]
    if out is not None:
        lines.append(f"report: {out}")
    sys.stdout.write("\n".join(lines) + "\n")
