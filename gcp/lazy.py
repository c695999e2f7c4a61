"""Adapters whose Google client library is imported on first use.

Importing every google-cloud client costs about half a second; Slack must be acknowledged
within 3 s of a request that may be a cold start, and the acknowledgement needs none of them.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any


class _Lazy:
    def __init__(self, module: str, name: str, *args: Any) -> None:
        self._spec = (module, name, args)
        self._target: Any = None
        self._lock = threading.Lock()

    def _resolve(self) -> Any:
        with self._lock:
            if self._target is None:
                module, name, args = self._spec
                self._target = getattr(importlib.import_module(module), name)(*args)
            return self._target

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._resolve(), attribute)


def lazy(module: str, name: str, *args: Any) -> Any:
    """`module.name(*args)`, built when an attribute is first used."""
    return _Lazy(module, name, *args)
