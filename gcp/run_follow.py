"""Following an accepted Cloud Run update to its end.

The long-running operation says when it is done, but reading it needs
`run.operations.get`, which a grant on one service may not give. Without it the service
itself tells the same story (Service.reconciling, in run/v2/service.proto): while it is
reconciling the change is under way; once it is not, either `observed_generation` reached
the generation the update made (success) or `terminal_condition` failed (and
`traffic_statuses` still describe the last serving state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.cloud import run_v2

from gcp.clients import CallSettings
from gcp.errors import NotFound, PermissionDenied, translated

FAILED = run_v2.Condition.State.CONDITION_FAILED


class Follow:
    """`done()` once per poll; then `outcome()`: the service message and a failure, if any."""

    def __init__(
        self,
        operation: Any,
        read_service: Callable[[], Any],
        generation: int,
        settings: CallSettings,
        what: str,
    ) -> None:
        self.operation = operation
        self.read_service = read_service
        self.generation = generation  # the generation the update gave the service
        self.settings = settings
        self.what = what
        self.by_service = False  # the operation could not be read: watching the service
        self.service: Any = None

    def done(self) -> bool:
        if not self.by_service:
            try:
                with translated(self.what):
                    return bool(self.operation.done(retry=self.settings.retry()))
            except (PermissionDenied, NotFound):
                self.by_service = True
        self.service = self.read_service()
        return settled(self.service, self.generation)

    def outcome(self) -> tuple[Any, str]:
        """(the service message or None, why the change failed or "")."""
        if self.by_service:
            failed = self.service.terminal_condition.state == FAILED
            return self.service, self.service.terminal_condition.message if failed else ""
        if self.operation.operation.HasField("error"):
            return None, str(self.operation.operation.error.message)
        with translated(self.what):
            return self.operation.result(), ""


def settled(service: Any, generation: int) -> bool:
    """The service reached `generation`, or stopped reconciling short of it with a failure."""
    if service.reconciling:
        return False
    return bool(
        service.observed_generation >= generation or service.terminal_condition.state == FAILED
    )


def generation_after(operation: Any, before: int) -> int:
    """The generation an accepted update gave the service (the operation's metadata says)."""
    metadata = operation.metadata
    made = int(metadata.generation) if metadata is not None else 0
    return made or before + 1
