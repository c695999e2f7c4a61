"""`/ops indexes [COLLECTION]`, `/ops create-index COLLECTION FIELDS` and
`/ops delete-index INDEX_ID`: the runbook's "Scaling Firestore" and "Query Timeout Errors"."""

from __future__ import annotations

from datetime import timedelta

from gcp.db_models import DatabaseRef, Index, IndexField, IndexSpec
from gcp.errors import GcpError
from handlers import blocks as bk
from handlers import db_kit
from handlers.actions import ChangeContext, ChangeSteps
from handlers.commands import Command, UsageError
from handlers.config import DATABASE_TARGET, OpsConfig
from handlers.plans import Change, Plan, Progress, Refusal, Result
from handlers.ports import Platform

ORDERS = {"asc": "ascending", "ascending": "ascending", "desc": "descending"}
ORDERS["descending"] = "descending"
FIELD_EXAMPLE = "`customerId:asc,createdAt:desc`"
STATE_ICONS = {"ready": ":large_green_circle:", "creating": ":hourglass_flowing_sand:"}
USES_WINDOW = timedelta(days=1)  # how far back the logs are searched for queries on an index
USES_SCAN = 200


def run(cmd: Command, platform: Platform, config: OpsConfig) -> list[bk.Block]:
    collection = cmd.args.get("collection", "")
    if collection:
        try:
            db_kit.collection(collection)
        except Refusal as err:
            raise UsageError(str(err)) from None
    db = DatabaseRef(config.env(cmd.env).project)
    indexes = platform.firestore_admin.list_indexes(db, collection)
    where = f"`{collection}`" if collection else "every collection"
    out = [bk.header(f"Composite indexes · {cmd.env}"), bk.context(f"{len(indexes)} in {where}")]
    if not indexes:
        return [*out, bk.section("No composite indexes.")]
    return bk.fit(out + [bk.section(line(i)) for i in indexes])


def line(index: Index) -> str:
    icon = STATE_ICONS.get(index.state, ":red_circle:")
    where, index_id = bk.escape(index.spec.collection), bk.code(index.index_id, 60)
    return f"{icon} *{where}*: {field_list(index.spec)} · {index.state} · {index_id}"


def field_list(spec: IndexSpec) -> str:
    return ", ".join(f"{bk.code(f.path, 80)} {f.order}" for f in spec.fields)


def parse_fields(text: str) -> tuple[IndexField, ...]:
    """`customerId:asc,createdAt:desc` -> fields; raises Refusal naming what is wrong."""
    fields = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        path, _, order = part.partition(":")
        if not path or "`" in path or ORDERS.get(order.lower()) is None:
            raise Refusal(
                f"{bk.code(part)} is not `field:asc` or `field:desc`. E.g. {FIELD_EXAMPLE}."
            )
        fields.append(IndexField(path, ORDERS[order.lower()]))
    if len(fields) < 2:
        raise Refusal(f"A composite index needs at least two fields, e.g. {FIELD_EXAMPLE}.")
    return tuple(fields)


def spec_text(spec: IndexSpec) -> str:
    """Fields as the command takes them (the button's and the plan's parameters)."""
    return ",".join(f"{f.path}:{'asc' if f.order == 'ascending' else 'desc'}" for f in spec.fields)


def gcloud(spec: IndexSpec, project: str) -> str:
    return (
        f"gcloud firestore indexes composite create --collection-group={spec.collection}"
        f" {spec.field_config} --project={project}"
    )


def plan_create(ctx: ChangeContext) -> Plan:
    collection = db_kit.collection(str(ctx.params.get("collection", "")))
    spec = IndexSpec(collection, parse_fields(str(ctx.params.get("fields", ""))))
    existing = ctx.platform.firestore_admin.list_indexes(db_kit.database(ctx), collection)
    same = next((i for i in existing if i.spec == spec), None)
    if same is not None:
        raise Refusal(f"That index exists already ({bk.code(same.index_id, 60)}, {same.state}).")
    return Plan(
        verb="create-index",
        env=ctx.env,
        target=DATABASE_TARGET,
        title=f"Create an index on {collection}",
        changes=(Change(f"Index on `{collection}`", "none", spec.short),),
        notes=(
            bk.code(gcloud(spec, ctx.project), 300),
            "Building takes minutes on a large collection; the thread says when it is ready."
            " Queries keep working meanwhile (those needing it keep failing until then).",
        ),
        params={"collection": collection, "fields": spec_text(spec)},
    )


def execute_create(ctx: ChangeContext, progress: Progress) -> Result:
    collection = str(ctx.params["collection"])
    spec = IndexSpec(collection, parse_fields(str(ctx.params["fields"])))
    done = db_kit.operate(
        ctx,
        lambda: ctx.platform.firestore_admin.create_index(db_kit.database(ctx), spec),
        progress,
        "Building the index",
        f"Creating the index on {collection}",
    )
    if isinstance(done, Result):
        return done
    return Result(True, f"The index on `{collection}` ({spec.short}) is ready.")


def plan_delete(ctx: ChangeContext) -> Plan:
    index_id = str(ctx.params.get("index", ""))
    indexes = ctx.platform.firestore_admin.list_indexes(db_kit.database(ctx))
    index = next((i for i in indexes if i.index_id == index_id), None)
    if index is None:
        raise Refusal(
            f"There is no index {bk.code(index_id)} in {ctx.env}; `/ops indexes` lists them."
        )
    return Plan(
        verb="delete-index",
        env=ctx.env,
        target=DATABASE_TARGET,
        title=f"Delete index {index_id} on {index.spec.collection}",
        changes=(Change(f"Index on `{index.spec.collection}`", index.spec.short, "deleted"),),
        notes=(_uses(ctx, index.spec.collection), "Queries that need it fail until it is rebuilt."),
        params={"index": index_id, "collection": index.spec.collection},
    )


def _uses(ctx: ChangeContext, collection: str) -> str:
    """The queries on the index's collection that the logs show, by message."""
    query = f'jsonPayload.collection="{collection}"'
    try:
        entries = ctx.platform.logs.list_entries(
            ctx.project, query, since=USES_WINDOW, limit=USES_SCAN
        )
    except GcpError:
        return "_Could not read the logs for queries that use it._"
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.message] = counts.get(entry.message, 0) + 1
    if not counts:
        return f"No logged query on `{collection}` in the last day."
    seen = ", ".join(f"{bk.code(m, 80)} ×{n}" for m, n in sorted(counts.items()))
    return f"Queries on `{collection}` in the last day's logs: {seen}."


def execute_delete(ctx: ChangeContext, progress: Progress) -> Result:
    index_id, collection = str(ctx.params["index"]), str(ctx.params["collection"])
    what = f"Deleting index {index_id}"
    try:
        ctx.platform.firestore_admin.delete_index(db_kit.database(ctx), collection, index_id)
    except GcpError as err:
        return db_kit.failed(err, what)
    return Result(True, f"Index `{index_id}` on `{collection}` is deleted.")


CREATE = ChangeSteps(plan=plan_create, execute=execute_create, current_state=db_kit.state)
DELETE = ChangeSteps(plan=plan_delete, execute=execute_delete, current_state=db_kit.state)
