"""The subset of the Cloud Logging query language that the bot and the runbook use.

A filter is an AND (explicit, or implied by juxtaposition) of comparisons, optionally in
parentheses: `FIELD OP VALUE` with OP one of `= > < >= <= : =~`. Fields are LogEntry fields
in their JSON spelling (`jsonPayload.message`) or proto spelling (`json_payload.message`).
Anything else (OR, NOT, `-`, `!=`, bare text search, functions, unknown fields) raises
`FilterError`, so a query the emulator cannot answer faithfully is refused, never guessed.

Filters are evaluated against the JSON form of a LogEntry (`MessageToDict` output).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SEVERITIES = {
    "DEFAULT": 0,
    "DEBUG": 100,
    "INFO": 200,
    "NOTICE": 300,
    "WARNING": 400,
    "ERROR": 500,
    "CRITICAL": 600,
    "ALERT": 700,
    "EMERGENCY": 800,
}
SCALAR_FIELDS = {
    "logName",
    "textPayload",
    "timestamp",
    "receiveTimestamp",
    "severity",
    "insertId",
    "trace",
    "spanId",
}
HTTP_REQUEST_FIELDS = {
    "requestMethod",
    "requestUrl",
    "requestSize",
    "status",
    "responseSize",
    "userAgent",
    "remoteIp",
    "serverIp",
    "referer",
    "latency",
    "protocol",
}
ORDERING = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le}
SUPPORTED = "AND of comparisons FIELD OP VALUE with OP one of = > < >= <= : =~"

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<op>>=|<=|=~|!~|!=|=|>|<|:)
    | (?P<paren>[()])
    | (?P<word>[^\s"()=<>:!]+)
    | (?P<bad>\S)
    )""",
    re.VERBOSE,
)


class FilterError(ValueError):
    """The filter is outside the supported subset or malformed; the text says where."""


@dataclass(frozen=True)
class Token:
    kind: str  # string, op, paren, word
    text: str
    pos: int


@dataclass(frozen=True)
class Comparison:
    path: tuple[str, ...]  # normalised: ("jsonPayload", "message")
    op: str
    value: str
    test: Callable[[Any], bool]

    def matches(self, entry: Mapping[str, Any]) -> bool:
        value = _lookup(entry, self.path)
        # A missing field or an object/list never matches a scalar comparison.
        return isinstance(value, str | int | float | bool) and self.test(value)


@dataclass(frozen=True)
class LogFilter:
    comparisons: tuple[Comparison, ...]

    def matches(self, entry: Mapping[str, Any]) -> bool:
        return all(c.matches(entry) for c in self.comparisons)


def parse(text: str) -> LogFilter:
    """Compile `text`; an empty filter matches every entry."""
    parser = _Parser(list(_tokens(text)))
    comparisons = parser.expression()
    if parser.peek() is not None:
        token = parser.take()
        raise FilterError(f"unexpected {token.text!r} at position {token.pos}")
    return LogFilter(tuple(comparisons))


def _tokens(text: str) -> Iterator[Token]:
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:  # only trailing whitespace is left
            return
        kind = match.lastgroup
        start = match.start(kind)
        if kind == "bad":
            raise FilterError(f"unexpected character {match.group(kind)!r} at position {start}")
        yield Token(kind, match.group(kind), start)
        pos = match.end()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise FilterError("the filter ends early; expected a comparison FIELD OP VALUE")
        self.index += 1
        return token

    def expression(self) -> list[Comparison]:
        comparisons: list[Comparison] = []
        while (token := self.peek()) is not None and token.text != ")":
            if token.kind == "word" and token.text == "AND":
                if not comparisons:
                    raise FilterError(f"AND at position {token.pos} has nothing on its left")
                self.take()
                token = self.peek()
                if token is None or token.text == ")":
                    raise FilterError("AND has nothing on its right")
            comparisons += self.term()
        return comparisons

    def term(self) -> list[Comparison]:
        token = self.take()
        if token.text == "(":
            inner = self.expression()
            closing = self.peek()
            if closing is None or closing.text != ")":
                raise FilterError(f"the parenthesis at position {token.pos} is not closed")
            self.take()
            if not inner:
                raise FilterError(f"empty parentheses at position {token.pos}")
            return inner
        _refuse_keyword(token)
        if token.kind != "word":
            raise FilterError(
                f"unexpected {token.text!r} at position {token.pos}; the emulator supports "
                f"only {SUPPORTED} (no bare text search)"
            )
        op = self.peek()
        if op is None or op.kind != "op":
            raise FilterError(
                f"{token.text!r} at position {token.pos} is not followed by an operator; "
                "bare text search is not supported"
            )
        self.take()
        value = self.take()
        if value.kind not in ("string", "word"):
            raise FilterError(f"expected a value after {op.text!r} at position {value.pos}")
        return [_comparison(token.text, op.text, _unquote(value))]


def _refuse_keyword(token: Token) -> None:
    if token.kind != "word":
        return
    if token.text in ("OR", "NOT"):
        raise FilterError(
            f"{token.text} at position {token.pos} is not supported by the emulator; "
            f"use an {SUPPORTED}"
        )
    if token.text.startswith("-"):
        raise FilterError(f"negation ('-') at position {token.pos} is not supported")


def _unquote(token: Token) -> str:
    if token.kind == "word":
        return token.text
    return re.sub(r"\\(.)", r"\1", token.text[1:-1])


def _comparison(field: str, op: str, value: str) -> Comparison:
    if op in ("!=", "!~"):
        raise FilterError(f"operator {op!r} is not supported by the emulator; use {SUPPORTED}")
    path = normalise_path(field)
    kind = _kind(path)
    test = _TESTS[kind](op, value, field)
    return Comparison(path, op, value, test)


def normalise_path(field: str) -> tuple[str, ...]:
    """`json_payload.message` -> ("jsonPayload", "message"); unknown fields raise."""
    parts = field.split(".")
    if any(not part for part in parts):
        raise FilterError(f"malformed field name {field!r}")
    root = _camel(parts[0])
    rest = parts[1:]
    if root in SCALAR_FIELDS and not rest:
        return (root,)
    if root == "resource" and rest == ["type"]:
        return (root, "type")
    if root in ("resource", "labels") and _is_label_path(root, rest):
        return (root, *rest)
    if root == "httpRequest" and len(rest) == 1 and _camel(rest[0]) in HTTP_REQUEST_FIELDS:
        return (root, _camel(rest[0]))
    if root in ("jsonPayload", "protoPayload") and rest:
        return (root, *rest)
    raise FilterError(
        f"unknown or unsupported field {field!r}; the emulator supports resource.type, "
        "resource.labels.KEY, labels.KEY, severity, timestamp, logName, textPayload, "
        "jsonPayload.PATH, protoPayload.PATH and httpRequest.FIELD"
    )


def _is_label_path(root: str, rest: list[str]) -> bool:
    return (root == "resource" and len(rest) == 2 and rest[0] == "labels") or (
        root == "labels" and len(rest) == 1
    )


def _camel(name: str) -> str:
    head, *tail = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in tail)


def _kind(path: tuple[str, ...]) -> str:
    if path == ("severity",):
        return "severity"
    if path in (("timestamp",), ("receiveTimestamp",)):
        return "time"
    if path == ("httpRequest", "latency"):
        return "duration"
    return "plain"


def _lookup(entry: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = entry
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    if value is None and path == ("severity",):
        return "DEFAULT"  # the JSON form omits the default enum value
    return value


def _severity_test(op: str, literal: str, field: str) -> Callable[[Any], bool]:
    wanted = _severity_number(literal)
    compare = _ordering_or_equality(op, field)
    return lambda value: compare(_severity_number(str(value)), wanted)


def _severity_number(text: str) -> int:
    if text.upper() in SEVERITIES:
        return SEVERITIES[text.upper()]
    if text.isdigit():
        return int(text)
    raise FilterError(f"unknown severity {text!r}; use one of {', '.join(SEVERITIES)}")


def _time_test(op: str, literal: str, field: str) -> Callable[[Any], bool]:
    wanted = _timestamp(literal)
    compare = _ordering_or_equality(op, field)
    return lambda value: compare(_timestamp(str(value)), wanted)


def _timestamp(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise FilterError(
            f'{text!r} is not an RFC 3339 timestamp; write one quoted: "2024-05-01T10:00:00Z"'
        )
    return parsed


def _duration_test(op: str, literal: str, field: str) -> Callable[[Any], bool]:
    wanted = _seconds(literal)
    compare = _ordering_or_equality(op, field)
    return lambda value: compare(_seconds(str(value)), wanted)


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)s", text)
    if match is None:
        raise FilterError(f'{text!r} is not a duration such as "1s" or "0.250s"')
    return float(match.group(1))


def _ordering_or_equality(op: str, field: str) -> Callable[[Any, Any], bool]:
    if op == "=":
        return operator.eq
    if op in ORDERING:
        return ORDERING[op]
    raise FilterError(f"operator {op!r} cannot be used with {field}")


def _plain_test(op: str, literal: str, field: str) -> Callable[[Any], bool]:
    if op == "=":
        return lambda value: _as_text(value) == literal or _same_number(value, literal)
    if op == ":":
        needle = literal.casefold()
        return lambda value: needle in _as_text(value).casefold()
    if op == "=~":
        try:
            pattern = re.compile(literal)
        except re.error as err:
            raise FilterError(
                f"invalid regular expression {literal!r} for {field}: {err}"
            ) from None
        return lambda value: pattern.search(_as_text(value)) is not None
    compare = ORDERING[op]
    number = _number(literal)
    if number is None:
        return lambda value: compare(_as_text(value), literal)
    return lambda value: (v := _number(value)) is not None and compare(v, number)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _same_number(value: Any, literal: str) -> bool:
    left, right = _number(value), _number(literal)
    return not isinstance(value, str) and left is not None and left == right


_TESTS: dict[str, Callable[[str, str, str], Callable[[Any], bool]]] = {
    "severity": _severity_test,
    "time": _time_test,
    "duration": _duration_test,
    "plain": _plain_test,
}
