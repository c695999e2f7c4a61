"""`/ops backups` (the runbook's "Backup Verification") and `/ops export [--collections …]`
(its "Export Firestore Data") to `gs://fluxori-<env>-backup/firestore/<date>`."""

from __future__ import annotations

from datetime import datetime, timedelta

from gcp.db_models import Export
from gcp.errors import NotFound
from handlers import blocks as bk
from handlers import db_kit
from handlers.actions import ChangeContext, ChangeSteps
from handlers.commands import Command, UsageError
from handlers.config import DATABASE_TARGET, OpsConfig
from handlers.plans import Change, Plan, Progress, Refusal, Result
from handlers.ports import Platform

EXPORTS = "firestore/"
STORAGE_BACKUPS = "storage/"
SHOWN = 10


def run(cmd: Command, platform: Platform, config: OpsConfig, now: datetime) -> list[bk.Block]:
    bucket = config.backup_bucket(cmd.env)
    try:
        exports = platform.storage.list_exports(bucket, EXPORTS)
        folders = platform.storage.list_folders(bucket, STORAGE_BACKUPS)
    except NotFound:
        raise UsageError(missing_bucket(bucket)) from None
    out = [bk.header(f"Backups · {cmd.env}"), bk.context(f"`gs://{bucket}/`")]
    out.append(bk.section(freshness(exports, now, config.backup_max_age_hours)))
    out += [bk.section(export_line(e)) for e in exports[:SHOWN]]
    if len(exports) > SHOWN:
        out.append(bk.context(f"{len(exports) - SHOWN} older exports not shown."))
    storage = ", ".join(bk.code(f, 60) for f in folders[:SHOWN]) or "none"
    out.append(bk.context(f"Cloud Storage backups (`{STORAGE_BACKUPS}`): {storage}"))
    return bk.fit(out)


def missing_bucket(bucket: str) -> str:
    return f"The backup bucket `gs://{bucket}` does not exist; nothing was read or changed."


def freshness(exports: list[Export], now: datetime, max_age_hours: int) -> str:
    complete = [(e, e.updated) for e in exports if e.complete and e.updated is not None]
    if not complete:
        return ":warning: *No complete Firestore export in the bucket.* Run `/ops export`."
    newest, updated = complete[0]
    age = now - updated
    said = f"Newest complete export: {bk.code(newest.date, 60)}, {_age(age)} old"
    if age > timedelta(hours=max_age_hours):
        return f":warning: *{said}*: older than {max_age_hours} h. Run `/ops export`."
    return f":white_check_mark: {said}."


def _age(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"


def export_line(export: Export) -> str:
    state = "complete" if export.complete else ":warning: incomplete (no overall metadata)"
    return (
        f"*{bk.escape(export.date)}* · {db_kit.named(export.collections)}"
        f" · {db_kit.size(export.size)} · {state}"
    )


def folder_for(ctx: ChangeContext, taken: list[Export], suffix: str = "") -> str:
    """Today's folder (`2026-11-30`), with the time when today's exists already."""
    day = f"{ctx.now:%Y-%m-%d}{suffix}"
    dates = {e.date for e in taken}
    return day if day not in dates else f"{day}-{ctx.now:%H%M%S}"


def existing_exports(ctx: ChangeContext) -> list[Export]:
    bucket = ctx.config.backup_bucket(ctx.env)
    try:
        return ctx.platform.storage.list_exports(bucket, EXPORTS)
    except NotFound:
        raise Refusal(missing_bucket(bucket)) from None


def export_uri(ctx: ChangeContext, suffix: str = "") -> str:
    folder = folder_for(ctx, existing_exports(ctx), suffix)
    return f"gs://{ctx.config.backup_bucket(ctx.env)}/{EXPORTS}{folder}"


def gcloud_export(uri: str, collections: tuple[str, ...], project: str) -> str:
    ids = ",".join(collections) if collections else "()"
    return f"gcloud firestore export {uri} --collection-ids='{ids}' --project={project}"


def plan_export(ctx: ChangeContext) -> Plan:
    collections = db_kit.collections(str(ctx.params.get("collections", "")))
    uri = export_uri(ctx)
    return Plan(
        verb="export",
        env=ctx.env,
        target=DATABASE_TARGET,
        title=f"Export Firestore ({db_kit.named(collections)})",
        changes=(Change("Export", "none", uri),),
        notes=(
            bk.code(gcloud_export(uri, collections, ctx.project), 300),
            "Reads every document of those collections; writes nothing to the database.",
        ),
        params={"collections": ",".join(collections), "uri": uri},
    )


def run_export(
    ctx: ChangeContext, progress: Progress, uri: str, collections: tuple[str, ...]
) -> Result:
    done = db_kit.operate(
        ctx,
        lambda: ctx.platform.firestore_admin.export(db_kit.database(ctx), uri, collections),
        progress,
        "Exporting",
        f"Exporting to {uri}",
    )
    if isinstance(done, Result):
        return done
    return Result(
        True,
        f"Exported {done.documents:,} documents ({db_kit.size(done.bytes)}) of"
        f" {db_kit.named(collections)} to `{uri}`.",
    )


def execute_export(ctx: ChangeContext, progress: Progress) -> Result:
    collections = db_kit.collections(str(ctx.params.get("collections", "")))
    return run_export(ctx, progress, str(ctx.params["uri"]), collections)


EXPORT = ChangeSteps(plan=plan_export, execute=execute_export, current_state=db_kit.state)
