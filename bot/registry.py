"""Every runbook action, registered once: its `/ops` grammar, whether it reads or changes, and
the steps the listeners, planner, executor and sweep dispatch to. A verb that is not here is
refused everywhere; it never falls through to another action's code.

A new action needs its handler (parse/plan/execute/render in `handlers/`), a `gcp` adapter if
it calls a new API, one entry in ACTIONS below, and its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from gcp.lazy import later
from gcp.log_queries import PRESETS
from handlers.blocks import Block
from handlers.commands import Command, Verb
from handlers.commands import parse as parse_with
from handlers.config import DATABASE_TARGET, OpsConfig
from handlers.plans import Refusal

if TYPE_CHECKING:
    from bot.deps import Deps
    from handlers.actions import ChangeSteps

ReadAnswer = Callable[[Command, "Deps"], list[Block]]


@dataclass(frozen=True)
class Read:
    """A read action's answer, loaded on first use (`later`): `path` names the function that
    builds it, called with (cmd, platform, config) from handlers/, with (cmd, deps) from bot/
    when `bot_side`, and with the clock's time too when `dated`."""

    path: str
    bot_side: bool = False
    dated: bool = False

    def __call__(self, cmd: Command, deps: Deps) -> list[Block]:
        answer = later(self.path)
        if self.bot_side:
            return list(answer(cmd, deps))
        if self.dated:
            return list(answer(cmd, deps.platform, deps.config, deps.now()))
        return list(answer(cmd, deps.platform, deps.config))


@dataclass(frozen=True)
class RunbookAction:
    name: str
    grammar: Verb | None  # None: reached only through a button (e.g. Disable old version)
    answer: ReadAnswer | None = None  # a read action answers in the thread
    change: str = ""  # a change action's ChangeSteps (`later`): planned, confirmed, executed
    params: Callable[[Command], dict[str, Any]] = field(default=lambda cmd: {})
    policy_verb: str = ""  # the [policy] rules' key; the action's name by default
    target: str = ""  # the change's target when the command names none (the database)

    @property
    def policy_key(self) -> str:
        return self.policy_verb or self.name


def _register(*actions: RunbookAction) -> dict[str, RunbookAction]:
    registered = {}
    for action in actions:
        grammar = action.grammar and replace(action.grammar, mutating=bool(action.change))
        registered[action.name] = replace(action, grammar=grammar)
    return registered


ACTIONS: dict[str, RunbookAction] = _register(
    RunbookAction(
        "help", Verb("help", "help", "Show this list of commands.", "/ops help", flags=())
    ),
    RunbookAction(
        "status",
        Verb(
            "status",
            "status SERVICE",
            "URL, serving revisions and traffic, scaling, resources, readiness.",
            "/ops status fluxori-backend --env prod",
            positionals=("service",),
        ),
        answer=Read("handlers.status.run"),
    ),
    RunbookAction(
        "revisions",
        Verb(
            "revisions",
            "revisions SERVICE [--limit N]",
            "The newest revisions with image, readiness and traffic.",
            "/ops revisions fluxori-backend --limit 5",
            positionals=("service",),
            flags=("env", "limit"),
        ),
        answer=Read("handlers.revisions.run"),
    ),
    RunbookAction(
        "errors",
        Verb(
            "errors",
            "errors SERVICE [--since 1h] [--limit N]",
            "ERROR-and-above log entries grouped by message, with counts and revisions.",
            "/ops errors fluxori-backend --since 30m",
            positionals=("service",),
            flags=("env", "since", "limit"),
        ),
        answer=Read("handlers.logs.run_errors"),
    ),
    RunbookAction(
        "logs",
        Verb(
            "logs",
            "logs SERVICE PRESET [--since 1h]",
            "The runbook's log queries: " + ", ".join(PRESETS) + ".",
            "/ops logs fluxori-backend slow-queries --since 2h",
            positionals=("service", "preset"),
            flags=("env", "since", "limit"),
        ),
        answer=Read("handlers.logs.run_preset"),
    ),
    RunbookAction(
        "rollback",
        Verb(
            "rollback",
            "rollback SERVICE [--to REVISION]",
            "Plan moving 100% of traffic to the previous (or a named) revision.",
            "/ops rollback fluxori-backend --env prod",
            positionals=("service",),
            flags=("env", "to", "override"),
        ),
        change="handlers.rollback.STEPS",
        params=lambda cmd: {"to": cmd.to_revision},
    ),
    RunbookAction(
        "roll-forward",
        Verb(
            "roll-forward",
            "roll-forward SERVICE [--to REVISION] [--canary N]",
            "Plan the way back after a rollback: traffic to the latest (or a named) revision;"
            " `--canary 10` moves 10% first, checks 5xx rate and latency, then offers the rest.",
            "/ops roll-forward fluxori-backend --canary 10",
            positionals=("service",),
            flags=("env", "to", "canary", "override"),
        ),
        change="handlers.roll_forward.STEPS",
        params=lambda cmd: {"to": cmd.to_revision, "canary": cmd.canary},
    ),
    RunbookAction(
        "scale",
        Verb(
            "scale",
            "scale SERVICE [min=N] [max=N] [memory=2Gi] [cpu=2] [concurrency=80]",
            "Plan a change of instances, memory, CPU or concurrency (no values: a form).",
            "/ops scale fluxori-backend min=5 max=20",
            positionals=("service",),
            flags=("env", "override"),
            takes_settings=True,
        ),
        change="handlers.scale.STEPS",
        params=lambda cmd: {"settings": cmd.settings},
    ),
    RunbookAction(
        "rotate-secret",
        Verb(
            "rotate-secret",
            "rotate-secret [SECRET]",
            "Plan the runbook's JWT secret rotation: new version, new revisions, traffic.",
            "/ops rotate-secret jwt-secret --env staging",
            optional_positionals=("secret",),
            flags=("env", "override"),
        ),
        change="handlers.rotate.STEPS",
    ),
    RunbookAction("disable-secret-version", None, change="handlers.disable_version.STEPS"),
    RunbookAction(
        "slo",
        Verb(
            "slo",
            "slo SERVICE",
            "SLO compliance, error budget remaining and burn rate.",
            "/ops slo fluxori-backend",
            positionals=("service",),
        ),
        answer=Read("handlers.slo.run"),
    ),
    RunbookAction(
        "slo-goal",
        Verb(
            "slo-goal",
            "slo-goal SERVICE [SLO] --goal 99.5 [--window 28d]",
            "Plan a new SLO goal or rolling window: compliance, and what the error budget"
            " becomes under it.",
            "/ops slo-goal fluxori-backend --goal 99.5 --window 28d",
            positionals=("service",),
            optional_positionals=("slo",),
            flags=("env", "goal", "window", "override"),
        ),
        change="handlers.slo_goal.STEPS",
        params=lambda cmd: {
            "slo": cmd.slo,
            "goal_percent": cmd.goal_percent,
            "window_days": cmd.window_days,
        },
    ),
    RunbookAction(
        "why",
        Verb(
            "why",
            "why SERVICE [--since 2h]",
            "What changed and did the trouble start with it: changes from every source, health"
            " per revision, new errors, SLO burn, and the runbook step that fits.",
            "/ops why fluxori-backend --since 2h",
            positionals=("service",),
            flags=("env", "since"),
        ),
        answer=Read("bot.ops.why.answer", bot_side=True),
    ),
    RunbookAction(
        "history",
        Verb(
            "history",
            "history [SERVICE] [--limit N] [--user @x] [--outcome O] [--since 7d|DATE]"
            " [--before DATE]",
            "Recent actions in every environment (or `--env`): who did what, approved by whom,"
            " what changed, how it ended; `--outcome refused` lists refused requests and why.",
            "/ops history fluxori-backend --outcome failed",
            optional_positionals=("service",),
            flags=("env", "limit", "user", "outcome", "since", "before"),
        ),
        answer=Read("bot.ops.history.render", bot_side=True),
    ),
)
DATABASE_ACTIONS = _register(
    RunbookAction(
        "indexes",
        Verb(
            "indexes",
            "indexes [COLLECTION]",
            "Firestore's composite indexes: collection, fields and order, state.",
            "/ops indexes orders --env prod",
            optional_positionals=("collection",),
        ),
        answer=Read("handlers.indexes.run"),
    ),
    RunbookAction(
        "create-index",
        Verb(
            "create-index",
            "create-index COLLECTION FIELD:asc|desc,…",
            "Plan a composite index; the thread says when it is ready.",
            "/ops create-index orders customerId:asc,createdAt:desc",
            positionals=("collection", "fields"),
            flags=("env", "override"),
        ),
        change="handlers.indexes.CREATE",
        params=lambda cmd: dict(cmd.args),
        target=DATABASE_TARGET,
    ),
    RunbookAction(
        "delete-index",
        Verb(
            "delete-index",
            "delete-index INDEX_ID",
            "Plan deleting an index, naming the logged queries on its collection.",
            "/ops delete-index CICAgOjXh4EK --env staging",
            positionals=("index",),
            flags=("env", "override"),
        ),
        change="handlers.indexes.DELETE",
        params=lambda cmd: dict(cmd.args),
        target=DATABASE_TARGET,
    ),
    RunbookAction(
        "backups",
        Verb(
            "backups",
            "backups",
            "Firestore exports in the backup bucket, newest first, and how old the newest is.",
            "/ops backups --env prod",
        ),
        answer=Read("handlers.backups.run", dated=True),
    ),
    RunbookAction(
        "export",
        Verb(
            "export",
            "export [--collections a,b]",
            "Plan a Firestore export to gs://fluxori-<env>-backup/firestore/<date>.",
            "/ops export --collections users,orders",
            flags=("env", "collections", "override"),
        ),
        change="handlers.backups.EXPORT",
        params=lambda cmd: {"collections": cmd.collections},
        target=DATABASE_TARGET,
    ),
    RunbookAction(
        "restore",
        Verb(
            "restore",
            "restore DATE [--collections a,b]",
            "Plan importing an export over the current documents (two people, always).",
            "/ops restore 2026-11-29 --collections users --env staging",
            positionals=("date",),
            flags=("env", "collections", "override"),
        ),
        change="handlers.restore.STEPS",
        params=lambda cmd: {**cmd.args, "collections": cmd.collections},
        target=DATABASE_TARGET,
    ),
)
ACTIONS.update(DATABASE_ACTIONS)
VERBS: Mapping[str, Verb] = {a.name: a.grammar for a in ACTIONS.values() if a.grammar}


def parse(text: str, config: OpsConfig) -> Command:
    """`/ops` text -> a Command of a registered verb; raises UsageError."""
    return parse_with(text, config, VERBS)


def steps(name: str) -> ChangeSteps:
    """The registered change steps of `name`; Refusal for anything else."""
    action = ACTIONS.get(name)
    if action is None or not action.change:
        raise Refusal(f"`{name}` is not a change I know how to make.")
    found: ChangeSteps = later(action.change)
    return found
