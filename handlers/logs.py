"""`/ops errors` and `/ops logs PRESET`: the runbook's `gcloud logging read` queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gcp.log_queries import PRESETS, build_filter, logs_explorer_url
from gcp.models import LogEntry
from handlers import blocks as bk
from handlers.commands import Command
from handlers.config import OpsConfig
from handlers.index_offers import offers
from handlers.ports import Platform
from handlers.timefmt import window

SCAN_LIMIT = 500  # entries read to group errors; enough for a burst, cheap to read
DEFAULT_GROUPS = 10
DEFAULT_ENTRIES = 20


@dataclass
class ErrorGroup:
    message: str
    count: int = 0
    revisions: set[str] = field(default_factory=set)
    last_seen: datetime | None = None
    sample: LogEntry | None = None


def run_errors(cmd: Command, platform: Platform, config: OpsConfig) -> list[bk.Block]:
    env = config.env(cmd.env)
    query = build_filter(cmd.service, "errors")
    entries = platform.logs.list_entries(env.project, query, since=cmd.since, limit=SCAN_LIMIT)
    url = logs_explorer_url(env.project, query, cmd.since)
    return render_errors(cmd, entries, url)


def run_preset(cmd: Command, platform: Platform, config: OpsConfig) -> list[bk.Block]:
    env = config.env(cmd.env)
    query = build_filter(cmd.service, cmd.preset)
    limit = cmd.limit or DEFAULT_ENTRIES
    entries = platform.logs.list_entries(env.project, query, since=cmd.since, limit=limit)
    url = logs_explorer_url(env.project, query, cmd.since)
    return render_entries(cmd, entries, url)


def group_errors(entries: list[LogEntry]) -> list[ErrorGroup]:
    """Group by message (first line), newest group first; entries arrive newest first."""
    groups: dict[str, ErrorGroup] = {}
    for entry in entries:
        key = entry.message.splitlines()[0][:200] if entry.message else "(no message)"
        group = groups.setdefault(key, ErrorGroup(key, last_seen=entry.timestamp, sample=entry))
        group.count += 1
        if entry.revision:
            group.revisions.add(entry.revision)
    return list(groups.values())


def render_errors(cmd: Command, entries: list[LogEntry], url: str) -> list[bk.Block]:
    title = f"Errors in {cmd.service} · {cmd.env} · last {window(cmd.since)}"
    if not entries:
        return [
            bk.header(title),
            bk.section(f":white_check_mark: No errors in the last {window(cmd.since)}."),
        ]
    groups = group_errors(entries)
    shown = groups[: cmd.limit or DEFAULT_GROUPS]
    scanned = f"{len(entries)} entries" + (" (newest only)" if len(entries) >= SCAN_LIMIT else "")
    out = [
        bk.header(title),
        bk.context(f"{len(groups)} distinct messages in {scanned}", _explorer(url)),
    ]
    out += offers(entries, cmd.env)  # before the groups: bk.fit may cut the tail
    out += [bk.section(_group_text(g)) for g in shown]
    if len(groups) > len(shown):
        out.append(bk.context(f"{len(groups) - len(shown)} more messages not shown; use --limit."))
    return bk.fit(out)


def _explorer(url: str) -> str:
    return bk.link(url, "Open in Logs Explorer", bk.CONSOLE)


def _group_text(group: ErrorGroup) -> str:
    """The message once: its first line as the headline, any further lines (a stack trace)
    in a code block below."""
    revisions = ", ".join(bk.code(r) for r in sorted(group.revisions)) or "unknown revision"
    seen = bk.slack_date(group.last_seen) if group.last_seen else "?"
    sample = group.sample.message if group.sample and group.sample.message else group.message
    first, _, rest = sample.partition("\n")
    more = f"\n{bk.code_block(rest, 1200)}" if rest.strip() else ""
    return f"*{group.count}×* {bk.code(first, 500)}\nlast {seen} · {revisions}{more}"


def render_entries(cmd: Command, entries: list[LogEntry], url: str) -> list[bk.Block]:
    preset = PRESETS[cmd.preset]
    title = f"{cmd.preset} · {cmd.service} · {cmd.env} · last {window(cmd.since)}"
    out = [
        bk.header(title),
        bk.context(bk.escape(preset.description), _explorer(url)),
    ]
    if not entries:
        out.append(bk.section(f"No matching entries in the last {window(cmd.since)}."))
        return out
    out += offers(entries, cmd.env)
    out += [bk.section(_entry_text(e)) for e in entries]
    return bk.fit(out)


def _entry_text(entry: LogEntry) -> str:
    extra = f" · {entry.latency_ms:.0f} ms" if entry.latency_ms is not None else ""
    status = f" · HTTP {entry.status}" if entry.status else ""
    return (
        f"{bk.slack_date(entry.timestamp, '{time_secs}')} *{bk.escape_clipped(entry.severity)}*"
        f" {bk.code(entry.revision)}{status}{extra}\n"
        f"{bk.code_block(entry.message or '(no message)', 1500)}"
    )
