"""Every origin of a change (the slash command, the scale form, an alert's buttons, Plan again,
Undo, Disable old version) becomes one ChangeRequest, admitted by the same checks before any
plan exists: the action is registered, the environment and target are known, the channel is
allowed, the requester may read and request it, the rate limit, and the cooldown (an approver
may override it, on record). Every refusal is recorded with who, what and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bot import registry
from bot.deps import Deps
from bot.policy import ALLOW, Decision, cooling_down, rate_limited
from bot.runtime import job_inputs, logs
from bot.runtime.jobs import QueueFull
from bot.slack.messenger import ChannelUnavailable
from bot.store import Action, Event, Filters, State
from handlers.plans import Refusal

log = logs.get(__name__)

JOB_KIND = "plan"
BUSY = ":hourglass: I'm busy; try again in a few seconds."
FINISHED = (State.SUCCEEDED, State.FAILED, State.INTERRUPTED)


@dataclass(frozen=True)
class ChangeRequest:
    verb: str
    env: str
    target: str
    user: str
    channel: str
    origin: str  # command, form, alert, replan, undo, disable-old
    params: dict[str, Any] = field(default_factory=dict)
    response_url: str = ""  # a command's or a click's, for private answers
    thread_ts: str = ""  # the thread it came from (an alert's or a plan's)
    alert_id: str = ""
    override: str = ""  # `--override "reason"` for the cooldown

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> ChangeRequest:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def describe(self) -> dict[str, str]:
        return {"verb": self.verb, "env": self.env, "target": self.target, "origin": self.origin}


def submit(request: ChangeRequest, deps: Deps) -> dict[str, Any]:
    """From a verified request: store it and queue its plan job. Returns the ack body."""
    try:
        job_inputs.submit(JOB_KIND, asdict(request), deps.store, deps.queue)
    except QueueFull:
        return {"response_type": "ephemeral", "text": BUSY}
    log.info("change_requested", **request.describe())
    return {}


def register(deps: Deps) -> None:
    deps.runners[JOB_KIND] = job_inputs.runner(
        deps.store, lambda data: handle(ChangeRequest.from_record(data), deps)
    )


def handle(request: ChangeRequest, deps: Deps) -> None:
    """Admit the request, then plan it; refusals are recorded and answered."""
    from bot.changes import planning  # loads after start-up (cold start): see gcp.lazy.later

    decision = admit(request, deps)
    if not decision.allowed:
        refuse(request, decision.reason, deps)
        return
    try:
        planning.propose(request, deps)
    except ChannelUnavailable as err:
        _tell(request, f":warning: I cannot post the plan here. {err.fix}", deps)


def admit(request: ChangeRequest, deps: Deps) -> Decision:
    for check in (_known, _allowed, _rate, _cooldown):
        decision = check(request, deps)
        if not decision.allowed:
            return decision
    return ALLOW


def _known(request: ChangeRequest, deps: Deps) -> Decision:
    try:
        registry.steps(request.verb)
    except Refusal as err:
        return Decision(False, str(err))
    config = deps.config
    if request.env not in config.environments:
        return Decision(False, f"`{request.env}` is not one of the environments.")
    own_target = registry.ACTIONS[request.verb].target  # the database, for its actions
    if request.target not in (*config.services, *config.secrets, *filter(None, [own_target])):
        return Decision(False, f"`{request.target}` is not a service or secret I manage.")
    return ALLOW


def _allowed(request: ChangeRequest, deps: Deps) -> Decision:
    decision = deps.policy.may_read(request.user, request.env, request.channel)
    if not decision.allowed:
        return decision
    verb = registry.ACTIONS[request.verb].policy_key
    return deps.policy.may_request(request.user, verb, request.env, request.channel)


def _rate(request: ChangeRequest, deps: Deps) -> Decision:
    config = deps.policy.config
    recent = deps.store.search(Filters(user=request.user, limit=max(config.rate_limit * 2, 20)))
    return rate_limited(recent, request.user, config, deps.now())


def _cooldown(request: ChangeRequest, deps: Deps) -> Decision:
    finished = deps.store.search(
        Filters(env=request.env, target=request.target, states=FINISHED, limit=10)
    )
    last = next((a for a in finished if a.applied is not False), None)
    decision = cooling_down(last, deps.policy.config, deps.now())
    if decision.allowed or not request.override or last is None:
        return decision
    return _override(request, last, deps)


def _override(request: ChangeRequest, last: Action, deps: Deps) -> Decision:
    """Only someone who may approve can skip the cooldown; the reason goes on record."""
    as_approver = replace(last, requested_by="")  # approval rights without the two-person rule
    if not deps.policy.may_approve(request.user, as_approver).allowed:
        return Decision(False, "Only an approver may override the cooldown.")
    deps.store.record_refusal(
        Event(deps.now(), "cooldown_overridden", request.user, request.override),
        request.describe(),
    )
    log.info(
        "cooldown_overridden", user=request.user, reason=request.override, **request.describe()
    )
    return ALLOW


def refuse(request: ChangeRequest, reason: str, deps: Deps) -> None:
    """Keep the refusal on record and tell the requester (in the thread it came from)."""
    deps.store.record_refusal(
        Event(deps.now(), "refused", request.user, reason),
        {**request.describe(), "channel": request.channel},
    )
    log.info("request_refused", reason=reason, **request.describe())
    _tell(request, f":no_entry: {reason}", deps)


def _tell(request: ChangeRequest, text: str, deps: Deps) -> None:
    deps.messenger.tell(
        request.user,
        request.channel,
        text,
        response_url=request.response_url,
        thread_ts=request.thread_ts or None,
    )
