"""Who may request and approve changes. Built-in default: anyone who can use the command may
request and approve; in prod the approver must be someone other than the requester."""

from __future__ import annotations

from dataclasses import dataclass

from bot.store import Action


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


ALLOW = Decision(True)


class Policy:
    def __init__(self, two_person_envs: frozenset[str] = frozenset({"prod"})) -> None:
        self.two_person_envs = two_person_envs

    def may_request(self, user: str, verb: str, env: str, channel: str) -> Decision:
        del user, verb, env, channel
        return ALLOW

    def may_approve(self, user: str, action: Action) -> Decision:
        if action.env in self.two_person_envs and user == action.requested_by:
            return Decision(
                False,
                f"Approval in {action.env} needs a second person: someone other than"
                f" <@{action.requested_by}>, who requested it.",
            )
        return ALLOW

    def may_cancel(self, user: str, action: Action) -> Decision:
        del user, action
        return ALLOW
