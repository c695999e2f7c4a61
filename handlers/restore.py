"""`/ops restore DATE [--collections users,orders]`: the runbook's "Import Firestore Data" and
"Partial Recovery", the most dangerous action the bot has. Importing writes each exported
document over the current one with the same id (documents created since are kept); the policy
needs two people for it in every environment, and in prod the current data is exported first."""

from __future__ import annotations

from gcp.db_models import Export
from handlers import backups, db_kit
from handlers import blocks as bk
from handlers.actions import ChangeContext, ChangeSteps
from handlers.config import DATABASE_TARGET
from handlers.plans import Change, Plan, Progress, Refusal, Result

EXPORT_FIRST_ENVS = ("prod",)
OVERWRITE = (
    ":warning: *Documents will be overwritten*: every document in the export replaces the"
    " current document with the same id in {what}. Documents created since the export stay."
)


def find(exports: list[Export], date: str) -> Export:
    found = next((e for e in exports if e.date == date), None)
    if found is None:
        known = ", ".join(bk.code(e.date, 60) for e in exports[:5]) or "none"
        raise Refusal(
            f"There is no export {bk.code(date)} in the backup bucket. Newest: {known}"
            " (`/ops backups` lists them)."
        )
    if not found.complete:
        raise Refusal(
            f"The export {bk.code(found.date, 60)} is incomplete (no overall metadata file)."
        )
    return found


def chosen(export: Export, wanted: tuple[str, ...]) -> tuple[str, ...]:
    """The collections to import; each must be in the export (one of every collection holds all)."""
    missing = [c for c in wanted if export.collections and c not in export.collections]
    if missing:
        raise Refusal(
            f"The export {bk.code(export.date, 60)} does not contain"
            f" {db_kit.named(tuple(missing))};"
            f" it holds {db_kit.named(export.collections)}."
        )
    return wanted


def plan(ctx: ChangeContext) -> Plan:
    date = str(ctx.params.get("date", ""))
    wanted = db_kit.collections(str(ctx.params.get("collections", "")))
    exports = backups.existing_exports(ctx)
    export = find(exports, date)
    collections = chosen(export, wanted)
    what = db_kit.named(collections or export.collections)
    changes = [Change(f"Documents in {what}", "current", f"as exported on {export.date}")]
    params = {"export": export.date, "uri": export.uri, "collections": ",".join(collections)}
    if ctx.env in EXPORT_FIRST_ENVS:
        before = backups.export_uri(ctx, "-before-restore")
        changes.insert(0, Change("1. Export the current data", "none", before))
        params["export_first"] = before
    return Plan(
        verb="restore",
        env=ctx.env,
        target=DATABASE_TARGET,
        title=f"Restore {what} from the {export.date} export",
        changes=tuple(changes),
        notes=(
            OVERWRITE.format(what=what),
            f"Export {bk.code(export.uri)}: {db_kit.named(export.collections)},"
            f" {db_kit.size(export.size)}.",
            "Needs a second person to confirm, in every environment.",
            bk.code(_gcloud(export.uri, collections, ctx.project), 300),
        ),
        params=params,
    )


def _gcloud(uri: str, collections: tuple[str, ...], project: str) -> str:
    ids = f" --collection-ids={','.join(collections)}" if collections else ""
    return f"gcloud firestore import {uri}{ids} --project={project}"


def execute(ctx: ChangeContext, progress: Progress) -> Result:
    collections = db_kit.collections(str(ctx.params.get("collections", "")))
    uri, first = str(ctx.params["uri"]), str(ctx.params.get("export_first", ""))
    saved = ""
    if first:
        exported = backups.run_export(ctx, progress, first, collections)
        if not exported.ok:
            return Result(
                False, f"Nothing was imported: the export first failed. {exported.summary}"
            )
        saved = f" The data before it is in `{first}`."
    done = db_kit.operate(
        ctx,
        lambda: ctx.platform.firestore_admin.import_(db_kit.database(ctx), uri, collections),
        progress,
        "Importing",
        f"Importing {uri}",
    )
    if isinstance(done, Result):
        return done
    return Result(
        True,
        f"Imported {done.documents:,} documents of {db_kit.named(collections)}"
        f" from `{uri}`.{saved}",
    )


STEPS = ChangeSteps(plan=plan, execute=execute, current_state=db_kit.state)
