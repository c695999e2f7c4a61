"""Who may read, request and approve, per environment and verb: rules are data (BOT_CONFIG
`[policy]`), checked here. Built-in default: anyone who can use the command may request and
approve, from any channel the bot is in; a prod change needs a second person.

    [policy]
    channels = ["C0123ABCD"]             # where commands are accepted (empty: anywhere)
    rate_limit = 10                      # mutating requests per user per window...
    rate_window_minutes = 10             # ...0 turns the limit off
    cooldown_minutes = 0                 # quiet time per service after a change
    two_person_verbs = ["restore"]       # a second person in every environment (the default)
    export_first_verbs = ["rollback"]    # prod plans offered "Export first" (default: none)

    [policy.prod]
    requesters = ["S0SREONCALL"]         # user ids (U…/W…) or user group ids (S…)
    approvers = ["S0SREONCALL"]
    two_person = true
    readers = []                         # empty: read verbs open to everyone

    [policy.prod.verbs.rotate-secret]
    approvers = ["U0SECURITY"]
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.store import Action

_ID = re.compile(r"^[UWS][A-Z0-9_]{2,}$")
GROUP_TTL = 300.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


ALLOW = Decision(True)


@dataclass(frozen=True)
class Rule:
    requesters: tuple[str, ...] = ()  # empty: anyone
    approvers: tuple[str, ...] = ()
    readers: tuple[str, ...] = ()
    two_person: bool = False


@dataclass(frozen=True)
class PolicyConfig:
    channels: tuple[str, ...] = ()
    rate_limit: int = 10
    rate_window: timedelta = timedelta(minutes=10)
    cooldown: timedelta = timedelta(0)
    envs: dict[str, Rule] = field(default_factory=lambda: {"prod": Rule(two_person=True)})
    verbs: dict[tuple[str, str], Rule] = field(default_factory=dict)
    two_person_verbs: tuple[str, ...] = ("restore",)  # a second person in every environment
    export_first_verbs: tuple[str, ...] = ()  # prod plans offered an export of Firestore first

    def rule(self, env: str, verb: str) -> Rule:
        return self.verbs.get((env, verb)) or self.envs.get(env) or Rule()


class GroupMembers:
    """Slack user group membership, cached; raises when Slack cannot answer (fail closed)."""

    def __init__(self, fetch: Callable[[str], list[str]], ttl: float = GROUP_TTL) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def members(self, group: str) -> frozenset[str]:
        with self._lock:
            cached = self._cache.get(group)
            if cached and time.monotonic() - cached[0] < self._ttl:
                return cached[1]
        users = frozenset(self._fetch(group))
        with self._lock:
            self._cache[group] = (time.monotonic(), users)
        return users


class Policy:
    def __init__(
        self, config: PolicyConfig | None = None, groups: GroupMembers | None = None
    ) -> None:
        self.config = config or PolicyConfig()
        self.groups = groups or GroupMembers(lambda group: [])

    def may_use_channel(self, channel: str) -> Decision:
        allowed = self.config.channels
        if allowed and channel not in allowed:
            where = ", ".join(f"<#{c}>" for c in allowed)
            return Decision(False, f"/ops is only accepted in {where}.")
        return ALLOW

    def may_read(self, user: str, env: str, channel: str) -> Decision:
        decision = self.may_use_channel(channel)
        if not decision.allowed:
            return decision
        return self.may_see(user, env)

    def may_see(self, user: str, env: str) -> Decision:
        """Readers of an environment, wherever they look (a channel, App Home)."""
        return self._member(user, self.config.rule(env, "read").readers, f"read {env}")

    def may_request(self, user: str, verb: str, env: str, channel: str) -> Decision:
        decision = self.may_use_channel(channel)
        if not decision.allowed:
            return decision
        return self._member(
            user, self.config.rule(env, verb).requesters, f"request `{verb}` in {env}"
        )

    def may_approve(self, user: str, action: Action) -> Decision:
        rule = self.config.rule(action.env, action.verb)
        decision = self._member(user, rule.approvers, f"approve `{action.verb}` in {action.env}")
        if not decision.allowed:
            return decision
        two_person = rule.two_person or action.verb in self.config.two_person_verbs
        if two_person and user == action.requested_by:
            who = _who(rule.approvers)
            return Decision(
                False,
                f"Approval in {action.env} needs a second person: {who} other than"
                f" <@{action.requested_by}>, who requested it.",
            )
        return ALLOW

    def may_cancel(self, user: str, action: Action) -> Decision:
        if user == action.requested_by:
            return ALLOW
        return self._member(
            user, self.config.rule(action.env, action.verb).approvers, "cancel this plan"
        )

    def _member(self, user: str, allowed: tuple[str, ...], what: str) -> Decision:
        if not allowed or user in allowed:
            return ALLOW
        for group in (g for g in allowed if g.startswith("S")):
            try:
                if user in self.groups.members(group):
                    return ALLOW
            except Exception:  # Slack did not answer: refuse rather than guess
                why = f"I could not check membership of <!subteam^{group}>; try again shortly."
                return Decision(False, why)
        return Decision(False, f"Only {_who(allowed)} may {what}.")


def _who(allowed: tuple[str, ...]) -> str:
    if not allowed:
        return "someone"
    names = [f"<!subteam^{a}>" if a.startswith("S") else f"<@{a}>" for a in allowed]
    return (
        "a member of " + " or ".join(names)
        if len(names) == 1 and allowed[0].startswith("S")
        else " or ".join(names)
    )


def parse_policy(
    raw: Any, environments: tuple[str, ...], problems: list[str], source: str
) -> PolicyConfig:
    """`[policy]` -> PolicyConfig, appending one message per problem."""
    if raw in (None, {}):
        return PolicyConfig()
    if not isinstance(raw, dict):
        problems.append(f"{source}: [policy] must be a table.")
        return PolicyConfig()
    base = PolicyConfig()
    channels = _ids(raw.get("channels", []), f"{source}: policy.channels", problems, channel=True)
    config = replace(
        base,
        channels=channels,
        rate_limit=_int(raw, "rate_limit", base.rate_limit, problems, source),
        rate_window=timedelta(minutes=_int(raw, "rate_window_minutes", 10, problems, source)),
        cooldown=timedelta(minutes=_int(raw, "cooldown_minutes", 0, problems, source)),
        envs=dict(base.envs),
        two_person_verbs=_verbs(raw, "two_person_verbs", base.two_person_verbs, problems, source),
        export_first_verbs=_verbs(raw, "export_first_verbs", (), problems, source),
    )
    for env, table in raw.items():
        if env in (*TOP_KEYS, "two_person_verbs", "export_first_verbs"):
            continue
        if env not in environments:
            problems.append(f"{source}: policy.{env}: `{env}` is not one of the environments.")
            continue
        config.envs[env] = _rule(
            table, env, f"{source}: policy.{env}", problems, config.envs.get(env, Rule())
        )
        for verb, verb_table in (table.get("verbs") or {}).items():
            config.verbs[(env, verb)] = _rule(
                verb_table, env, f"{source}: policy.{env}.verbs.{verb}", problems, config.envs[env]
            )
    return config


TOP_KEYS = ("channels", "rate_limit", "rate_window_minutes", "cooldown_minutes")


def _verbs(
    raw: dict[str, Any], key: str, default: tuple[str, ...], problems: list[str], source: str
) -> tuple[str, ...]:
    """A list of verbs: `two_person_verbs` (default restore), `export_first_verbs` (none)."""
    value = raw.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{source}: policy.{key} must be a list of verbs.")
        return default
    return tuple(value)


def _rule(table: Any, env: str, where: str, problems: list[str], inherited: Rule) -> Rule:
    if not isinstance(table, dict):
        problems.append(f"{where} must be a table.")
        return inherited
    approvers = _ids(
        table.get("approvers", list(inherited.approvers)), f"{where}.approvers", problems
    )
    if "approvers" in table and not approvers and env == "prod":
        problems.append(f"{where}.approvers is empty: nobody could approve a prod change.")
    return Rule(
        requesters=_ids(
            table.get("requesters", list(inherited.requesters)), f"{where}.requesters", problems
        ),
        approvers=approvers,
        readers=_ids(table.get("readers", list(inherited.readers)), f"{where}.readers", problems),
        two_person=bool(table.get("two_person", inherited.two_person)),
    )


def _ids(value: Any, where: str, problems: list[str], channel: bool = False) -> tuple[str, ...]:
    pattern = re.compile(r"^[CG][A-Z0-9_]{2,}$") if channel else _ID
    if not isinstance(value, list):
        problems.append(f"{where} must be a list of Slack ids.")
        return ()
    bad = [v for v in value if not isinstance(v, str) or not pattern.match(v)]
    if bad:
        kind = "channel ids (C…)" if channel else "user ids (U…) or user group ids (S…)"
        problems.append(f"{where}: {bad} are not Slack {kind}.")
    return tuple(str(v) for v in value if isinstance(v, str) and pattern.match(v))


def _int(raw: dict[str, Any], key: str, default: int, problems: list[str], source: str) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        problems.append(f"{source}: policy.{key} must be a whole number, 0 or more.")
        return default
    return value


def rate_limited(recent: list[Action], user: str, config: PolicyConfig, now: datetime) -> Decision:
    """Refuse a user's request beyond `rate_limit` mutating requests in the window."""
    if not config.rate_limit:
        return ALLOW
    since = now - config.rate_window
    mine = [a for a in recent if a.requested_by == user and a.created_at >= since]
    if len(mine) < config.rate_limit:
        return ALLOW
    until = min(a.created_at for a in mine) + config.rate_window
    minutes = int(config.rate_window.total_seconds() // 60)
    return Decision(
        False,
        f"You have made {len(mine)} change requests in {minutes} min; try again after"
        f" {_time(until)}.",
    )


def cooling_down(last: Action | None, config: PolicyConfig, now: datetime) -> Decision:
    """Refuse a change to a service changed less than `cooldown` ago."""
    if not config.cooldown or last is None or last.finished_at is None:
        return ALLOW
    ends = last.finished_at + config.cooldown
    if now >= ends:
        return ALLOW
    ago = int((now - last.finished_at).total_seconds() // 60)
    return Decision(
        False,
        f"`{last.target}` in {last.env} was changed {ago} min ago (cooldown until"
        f' {_time(ends)}). An approver can override: add `--override "reason"`.',
    )


def _time(when: datetime) -> str:
    return f"<!date^{int(when.timestamp())}^{{time}}|{when:%H:%M} UTC>"
