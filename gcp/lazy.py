"""Adapters whose Google client library is imported on first use, or warmed up in the
background once the server is ready.

Importing every google-cloud client costs about half a second; Slack must be acknowledged
within 3 s of a request that may be a cold start, and the acknowledgement needs none of them.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
from collections.abc import Sequence
from functools import partial
from typing import Any

log = logging.getLogger(__name__)


def later(path: str) -> Any:
    """`package.module.name`, its module imported now if it is not yet. What acknowledgements
    do not need loads on first use, or in the warm-up after start, not before the server's
    first acknowledgement: creating its dataclasses alone is most of a cold start's own work."""
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


class _Lazy:
    def __init__(self, module: str, name: str, *args: Any) -> None:
        self._spec = (module, name, args)
        self._target: Any = None
        self._lock = threading.Lock()

    def _resolve(self) -> Any:
        if self._target is not None:  # built: no lock needed to read a set reference
            return self._target
        with self._lock:
            if self._target is None:
                module, name, args = self._spec
                self._target = later(f"{module}.{name}")(*args)
            return self._target

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._resolve(), attribute)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._resolve()(*args, **kwargs)


def lazy(module: str, name: str, *args: Any) -> Any:
    """`module.name(*args)`, built when an attribute is first used or it is first called."""
    return _Lazy(module, name, *args)


def warm_up(
    adapters: list[Any], delay_seconds: float, packages: Sequence[str] = ()
) -> threading.Timer:
    """Build the lazy `adapters`, then import every module of `packages`, on a background
    thread after `delay_seconds`, so the first answer does not pay for the imports and the
    first acknowledgement does not compete with them."""

    def build_all() -> None:
        steps = [a._resolve for a in adapters if isinstance(a, _Lazy)]  # first answers need them
        steps += [partial(importlib.import_module, module) for module in modules_of(packages)]
        for step in steps:  # each on its own: one that fails does not keep the others cold
            try:
                step()
            except Exception:  # first use will raise it again, where someone sees the answer
                log.exception("warm_up_failed")

    timer = threading.Timer(delay_seconds, build_all)
    timer.daemon = True
    timer.start()
    return timer


def modules_of(packages: Sequence[str]) -> list[str]:
    """Every module of `packages` (not of their subpackages), by name."""
    found = []
    for package in packages:
        path = importlib.import_module(package).__path__
        found += [f"{package}.{m.name}" for m in pkgutil.iter_modules(path) if not m.ispkg]
    return found
