"""The action store: every planned change, who decided what, and how it ended."""

from bot.store.base import ActionStore, Claim, Filters
from bot.store.model import TERMINAL, Action, Event, State

__all__ = ["TERMINAL", "Action", "ActionStore", "Claim", "Event", "Filters", "State"]
