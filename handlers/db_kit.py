"""What the database chapter's actions share: the database of an environment, collection ids
as the user types them, sizes, and following a Firestore operation in the thread."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from gcp.db_models import DatabaseRef, DbOperation
from gcp.errors import GcpError
from handlers import blocks as bk
from handlers.actions import ChangeContext
from handlers.plans import Progress, Refusal, Result

# Firestore's rules for a collection id (https://firebase.google.com/docs/firestore/quotas):
# no `/`, not `.` or `..`, not `__…__`; shorter here than the 1,500 bytes allowed, and without
# the characters Slack formatting gives a meaning to (`` ` < > & | * ``), as typed.
COLLECTION_ID = re.compile(r"^(?!__.*__$)(?!\.\.?$)[^/\s,`<>&|*]{1,100}$")
MAX_COLLECTIONS = 20


def database(ctx: ChangeContext) -> DatabaseRef:
    return DatabaseRef(ctx.project)


def collections(text: str) -> tuple[str, ...]:
    """`users,orders` -> ("users", "orders"); raises Refusal naming a bad id."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    bad = [n for n in names if not COLLECTION_ID.match(n)]
    if bad:
        raise Refusal(
            f"{bk.code(bad[0])} is not a collection id (no `/`, spaces or commas; not `.`, `..`"
            " or `__…__`). Give ids separated by commas, e.g. `--collections users,orders`."
        )
    if len(names) > MAX_COLLECTIONS:
        raise Refusal(f"At most {MAX_COLLECTIONS} collections at once.")
    return names


def collection(name: str) -> str:
    """One collection id, or a Refusal saying what a valid one looks like."""
    if not COLLECTION_ID.match(name):
        raise Refusal(
            f"{bk.code(name or ' ')} is not a collection id (no `/`, spaces or commas; not `.`,"
            " `..` or `__…__`)."
        )
    return name


def named(collections_: tuple[str, ...]) -> str:
    return ", ".join(bk.code(c, 100) for c in collections_) if collections_ else "all collections"


def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"  # unreachable: GB ends the loop


def operate(
    ctx: ChangeContext, start: Callable[[], Any], progress: Progress, doing: str, what: str
) -> DbOperation | Result:
    """Start an operation and follow it, saying `doing…` with what it has done so far; the
    finished operation, or a failed Result in Google's words (they name what is at fault)."""

    def report(state: DbOperation) -> None:
        done = f"{state.documents:,} documents" if state.documents else "started"
        progress(f"{doing}… {done}")

    try:
        return ctx.platform.firestore_admin.follow(start(), report, what)
    except GcpError as err:
        return failed(err, what)


def failed(err: GcpError, what: str) -> Result:
    return Result(False, f"{what} failed: {bk.escape(err.detail or err.what)}")


def refused_by_google(call: Callable[[], Any], what: str) -> Any:
    """`call()`, turning Google's refusal into a plan Refusal that quotes it."""
    try:
        return call()
    except GcpError as err:
        raise Refusal(f"{what}: {bk.escape(err.detail or err.what)}") from None


def state(ctx: ChangeContext) -> str:
    """For an interrupted change's report: the database's indexes now."""
    try:
        indexes = ctx.platform.firestore_admin.list_indexes(database(ctx))
    except GcpError as err:
        return f"_could not read the indexes: {bk.escape(err.what)}_"
    return ", ".join(
        f"{bk.code(i.spec.collection)} ({bk.escape(i.spec.short)}) {i.state}" for i in indexes
    )
