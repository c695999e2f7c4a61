"""Start-up configuration problems, reported all at once, one line per problem."""

from __future__ import annotations


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"- {p}" for p in problems))
