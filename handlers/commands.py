"""`/ops` grammar: text -> a validated `Command`, or a `UsageError` that names the problem."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from gcp import slo_rules
from gcp.log_queries import PRESETS
from handlers.blocks import code
from handlers.config import OpsConfig


class UsageError(Exception):
    """Bad command text; the message is shown to the user as it is."""


@dataclass(frozen=True)
class Verb:
    name: str
    usage: str
    summary: str
    example: str
    positionals: tuple[str, ...] = ()
    optional_positionals: tuple[str, ...] = ()
    flags: tuple[str, ...] = ("env",)
    mutating: bool = False
    takes_settings: bool = False


SCALE_KEYS = ("min", "max", "memory", "cpu", "concurrency")
_DURATION = re.compile(r"^(\d{1,4})([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
MAX_SINCE = timedelta(days=30)
MAX_LIMIT = 100
REVISION_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_PERCENT = re.compile(r"^\d{1,3}(\.\d{1,4})?%?$")
_DAYS = re.compile(r"^(\d{1,4})d$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")  # `--since`/`--before` of history: a UTC date or time


@dataclass(frozen=True)
class Command:
    verb: str
    env: str
    service: str = ""
    preset: str = ""
    secret: str = ""
    since: timedelta = timedelta(hours=1)
    limit: int | None = None
    to_revision: str = ""
    canary: int | None = None  # percent of traffic a roll forward moves first
    settings: dict[str, str] = field(default_factory=dict)
    user_filter: str = ""
    outcome_filter: str = ""
    since_given: bool = False
    since_date: datetime | None = None  # history: `--since 2026-11-01`
    before: datetime | None = None  # history: `--before 2026-11-01T14:30`
    text: str = ""
    env_given: bool = False
    override: str = ""
    mutating: bool = False
    slo: str = ""  # slo-goal: the SLO's id, when the service has several
    goal_percent: float | None = None  # slo-goal: `--goal 99.5`
    window_days: int | None = None  # slo-goal: `--window 28d`
    args: dict[str, str] = field(default_factory=dict)  # other positionals, by name
    collections: str = ""  # `--collections users,orders`, checked by the action


def suggest(
    word: str, choices: list[str] | tuple[str, ...], careful: frozenset[str] = frozenset()
) -> str:
    """' Did you mean x?' when a choice is close enough to be the word meant, else ''.
    A `careful` choice is suggested for a typo only one edit away."""
    close = _closest(word.lower(), choices, careful)
    return f" Did you mean `{close}`?" if close else ""


def _closest(
    word: str, choices: list[str] | tuple[str, ...], careful: frozenset[str] = frozenset()
) -> str:
    """A typo (one edit per three letters), else the one choice the word abbreviates
    (`revs`, `mem`), names a part of (`backend`) or extends (`--enviroment`); else ''."""
    if len(word) < 3 or not choices:
        return ""
    distance, best = min((_edits(word, c), c) for c in choices)
    if distance <= (1 if best in careful else len(word) // 3):
        return best
    near = [
        c for c in choices if _abbreviates(word, c) or word in c.split("-") or word.startswith(c)
    ]
    return near[0] if len(near) == 1 else ""


def _verb_hint(word: str, verbs: Mapping[str, Verb]) -> str:
    """A mistyped verb's suggestion; a verb that changes something only for a one-letter slip
    (`restart` is not a misspelt `restore`, which overwrites the database)."""
    changing = frozenset(name for name, verb in verbs.items() if verb.mutating)
    return suggest(word, tuple(verbs), changing)


def _abbreviates(word: str, choice: str) -> bool:
    """`word` starts as `choice` does and its letters appear in `choice` in order."""
    if word[:2] != choice[:2] or len(word) >= len(choice):
        return False
    letters = iter(choice)
    return all(ch in letters for ch in word)


def _edits(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`."""
    previous, before_previous = list(range(len(b) + 1)), list[int]()
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before_previous[j - 2] + 1)
        before_previous, previous = previous, current
    return previous[-1]


_SHELL_SPECIAL = re.compile(r"""['"\\]""")
_SHELL_SPACE = re.compile(r"[ \t\r\n]+")  # shlex's whitespace


def _tokens(text: str) -> list[str]:
    """shlex.split(text); without quotes or backslashes that is a split on shlex's whitespace,
    without shlex's character-by-character reading (most commands have none)."""
    if _SHELL_SPECIAL.search(text):
        return shlex.split(text)
    return [token for token in _SHELL_SPACE.split(text) if token]


def parse(text: str, config: OpsConfig, verbs: Mapping[str, Verb]) -> Command:
    """Parse the text after `/ops` against the registered verbs; raises UsageError with a
    message meant for the user."""
    try:
        tokens = _tokens(text.strip())
    except ValueError as err:
        raise UsageError(f"I could not read that command ({err}). Check your quotes.") from None
    if not tokens:
        return Command(verb="help", env=config.default_env, text=text)
    verb_name = tokens[0].lower()
    verb = verbs.get(verb_name)
    if verb is None:
        raise UsageError(
            f"{code(tokens[0])} is not an /ops command.{_verb_hint(verb_name, verbs)}"
            " Type `/ops help` for the list."
        )
    flags, words = _split_flags(tokens[1:], verb, config)
    return _build(verb, flags, words, config, text)


def _split_flags(
    tokens: list[str], verb: Verb, config: OpsConfig
) -> tuple[dict[str, str], list[str]]:
    flags: dict[str, str] = {}
    words: list[str] = []
    it = iter(tokens)
    for token in it:
        if not token.startswith("--"):
            words.append(token)
            continue
        name, _, value = token[2:].partition("=")
        if name not in verb.flags:
            allowed = ", ".join(f"--{f}" for f in verb.flags) or "no flags"
            hint = suggest(f"--{name}", tuple(f"--{f}" for f in verb.flags))
            raise UsageError(
                f"`{verb.name}` does not take {code('--' + name)}.{hint} It takes {allowed}."
            )
        if not value:
            value = next(it, "")
        if not value or value.startswith("--"):
            raise UsageError(f"`--{name}` needs a value: {_flag_values(name, config)}.")
        flags[name] = value
    return flags, words


_FLAG_VALUES = {
    "since": "a duration such as `30m`, `1h` or `2d`, e.g. `--since 1h`",
    "limit": f"a whole number from 1 to {MAX_LIMIT}, e.g. `--limit 10`",
    "to": "a revision name, e.g. `--to fluxori-backend-00041-abc`",
    "canary": "a percentage of traffic from 1 to 99, e.g. `--canary 10`",
    "user": "a mention, e.g. `--user @alice`",
    "outcome": "an outcome such as `failed` or `refused`, e.g. `--outcome failed`",
    "override": 'a reason, e.g. `--override "hotfix for the outage"`',
    "goal": "a percentage, e.g. `--goal 99.5`",
    "window": "whole days from 1 to 30, e.g. `--window 28d`",
    "collections": "collection ids separated by commas, e.g. `--collections users,orders`",
}


def _flag_values(name: str, config: OpsConfig) -> str:
    """What `--name` takes, with an example that can be typed as shown."""
    if name == "env":
        envs = ", ".join(f"`{e}`" for e in config.environments)
        others = [e for e in config.environments if e != config.default_env]
        example = others[0] if others else config.default_env
        return f"one of {envs} (default `{config.default_env}`), e.g. `--env {example}`"
    return _FLAG_VALUES.get(name, "see `/ops help`")


def _build(
    verb: Verb, flags: dict[str, str], words: list[str], config: OpsConfig, text: str
) -> Command:
    settings: dict[str, str] = {}
    if verb.takes_settings:
        settings = _scale_settings([w for w in words if "=" in w])
        words = [w for w in words if "=" not in w]
    values = _positionals(verb, words)
    env = _env(flags.get("env"), config)
    service = values.get("service", "")
    if service:
        _check_choice(service, config.services, "service")
    preset = values.get("preset", "")
    if preset:
        _check_choice(preset, tuple(PRESETS), "log preset")
    since_text = flags.get("since", "")
    since_date = (
        _moment("since", since_text) if verb.name == "history" and DATE.match(since_text) else None
    )
    secret = values.get("secret", "") if verb.name == "rotate-secret" else ""
    if verb.name == "rotate-secret":
        secret = secret or next(iter(config.secrets), "")
        _check_choice(secret, tuple(config.secrets), "secret")
    goal = _goal(flags["goal"]) if "goal" in flags else None
    window_days = _window_days(flags["window"]) if "window" in flags else None
    if verb.name == "slo-goal" and goal is None and window_days is None:
        raise UsageError(f"`slo-goal` needs `--goal` or `--window`. Usage: `/ops {verb.usage}`")
    return Command(
        verb=verb.name,
        env=env,
        service=service,
        preset=preset,
        secret=secret,
        since=_duration(since_text) if since_text and not since_date else timedelta(hours=1),
        limit=_limit(flags["limit"]) if "limit" in flags else None,
        to_revision=_revision(flags.get("to", "")),
        canary=_canary(flags["canary"]) if "canary" in flags else None,
        settings=settings,
        user_filter=flags.get("user", ""),
        outcome_filter=flags.get("outcome", ""),
        since_given=bool(since_text),
        since_date=since_date,
        before=_moment("before", flags["before"]) if "before" in flags else None,
        text=text.strip(),
        env_given="env" in flags,
        override=flags.get("override", "")[:300],
        mutating=verb.mutating,
        slo=values.get("slo", ""),
        goal_percent=goal,
        window_days=window_days,
        args={k: v for k, v in values.items() if k not in ("service", "preset", "secret")},
        collections=flags.get("collections", ""),
    )


def _positionals(verb: Verb, words: list[str]) -> dict[str, str]:
    names = verb.positionals + verb.optional_positionals
    if len(words) < len(verb.positionals):
        missing = verb.positionals[len(words)]
        raise UsageError(f"`{verb.name}` needs a {missing}. Usage: `/ops {verb.usage}`")
    if len(words) > len(names):
        extra = " ".join(words[len(names) :])
        raise UsageError(f"I did not expect {code(extra)}. Usage: `/ops {verb.usage}`")
    return dict(zip(names, words, strict=False))


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        known = ", ".join(f"`{c}`" for c in choices)
        raise UsageError(f"Unknown {what} {code(value)}.{suggest(value, choices)} Known: {known}.")


def _env(value: str | None, config: OpsConfig) -> str:
    if value is None:
        return config.default_env
    _check_choice(value, tuple(config.environments), "environment")
    return value


def _duration(value: str) -> timedelta:
    match = _DURATION.match(value.strip().lower())
    if not match:
        raise UsageError(
            f"{code('--since ' + value)} is not a duration. Use e.g. `30m`, `1h`, `2d`."
        )
    amount, unit = int(match.group(1)), match.group(2)
    since = timedelta(**{_UNITS[unit]: amount})
    if not timedelta(minutes=1) <= since <= MAX_SINCE:
        raise UsageError(f"`--since {value}` must be between 1m and 30d.")
    return since


def _moment(flag: str, value: str) -> datetime:
    """A UTC date or time such as 2026-11-20 or 2026-11-20T14:30 (history's window)."""
    try:
        moment = datetime.fromisoformat(value) if DATE.match(value) else None
    except ValueError:
        moment = None
    if moment is None:
        raise UsageError(
            f"{code(f'--{flag} {value}')} is not a date. Use e.g. `2026-11-20` or"
            " `2026-11-20T14:30` (UTC)."
        )
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise UsageError(
            f"{code('--limit ' + value)} must be a whole number from 1 to {MAX_LIMIT}."
        )
    return int(value)


def _canary(value: str) -> int:
    number = value.removesuffix("%")
    if not number.isdigit() or not 1 <= int(number) <= 99:
        raise UsageError(
            f"{code('--canary ' + value)} must be a percentage of traffic from 1 to 99, e.g. `10`."
        )
    return int(number)


def _goal(value: str) -> float:
    """An SLO goal as a percentage Cloud Monitoring accepts (`99.5` or `99.5%`)."""
    flag = code("--goal " + value)
    if not _PERCENT.match(value.strip()):
        raise UsageError(f"{flag} is not a percentage. Use e.g. `--goal 99.5` for 99.5%.")
    percent = float(value.strip().removesuffix("%"))
    problem = slo_rules.goal_problem(percent)
    if problem:
        raise UsageError(f"{flag} cannot be set: {problem}")
    if percent < 1:  # a fraction typed for a percentage
        raise UsageError(f"{flag} is {percent:g}%. Did you mean `--goal {percent * 100:g}`?")
    return percent


def _window_days(value: str) -> int:
    """An SLO's rolling window in whole days Cloud Monitoring accepts (`28d`)."""
    match = _DAYS.match(value.strip().lower())
    problem = slo_rules.window_problem(int(match.group(1)) if match else 0)
    if problem:
        raise UsageError(f"{code('--window ' + value)} cannot be set: {problem} E.g. `28d`.")
    return int(value.strip().lower().removesuffix("d"))


def _revision(value: str) -> str:
    if value and not REVISION_NAME.match(value):
        raise UsageError(
            f"{code('--to ' + value)} is not a revision name (e.g. fluxori-backend-00041-abc)."
        )
    return value


def _scale_settings(pairs: list[str]) -> dict[str, str]:
    settings: dict[str, str] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        key = key.lower()
        if key not in SCALE_KEYS:
            hint = suggest(key, SCALE_KEYS)
            raise UsageError(
                f"{code(key)} is not a scale setting.{hint} Use {', '.join(SCALE_KEYS)}."
            )
        if not value:
            raise UsageError(f"`{key}=` needs a value, e.g. `{key}={_EXAMPLES[key]}`.")
        settings[key] = value
    return settings


_EXAMPLES = {"min": "2", "max": "20", "memory": "2Gi", "cpu": "2", "concurrency": "80"}
