"""Cloud Run's documented limits on a service's CPU, memory, concurrency and instances.

The bot's own reading of Google's documentation, used to refuse a plan before anything is
sent (the emulator keeps an independent table, `gcp.emulator.run_limits`). Sources:

- CPU: https://cloud.google.com/run/docs/configuring/services/cpu (0.08 to 8 vCPU; below 1,
  steps of 0.001, and above 1 whole values from the memory table; below 1 vCPU: memory over
  512 MiB needs 0.5 vCPU and over 1 GiB needs 1 vCPU, maximum concurrency must be 1,
  request-based billing, first generation execution environment).
- Memory: https://cloud.google.com/run/docs/configuring/services/memory-limits (at most
  32 GiB; at least 128 MiB on the first generation, 512 MiB on the second; memory per vCPU:
  1 up to 4 GiB, 2 up to 8 GiB, 4 from 2 to 16 GiB, 6 from 4 to 24 GiB, 8 from 4 to 32 GiB).
- Execution environments: https://cloud.google.com/run/docs/about-execution-environments
  (unspecified lets Cloud Run choose the generation from the features used).
- Concurrency: https://cloud.google.com/run/docs/about-concurrency (1 to 1000).
- Instances: https://cloud.google.com/run/docs/configuring/min-instances and
  https://cloud.google.com/run/docs/configuring/max-instances (min at least 0, max at least
  1; the upper bound of max is a regional quota, not checked here).

Every function is pure; a problem is one sentence an on-call engineer can act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TypedDict, TypeVar, cast

from gcp.models import Service, ServiceChange

T = TypeVar("T")
KIB, MIB, GIB, TIB = 1024, 1024**2, 1024**3, 1024**4
MAX_MEMORY = 32 * GIB
MIN_MEMORY = {"gen1": 128 * MIB, "gen2": 512 * MIB, "": 128 * MIB}  # "": Cloud Run chooses
WHOLE_CPUS = (1, 2, 4, 6, 8)
MIN_CPU, CPU_STEP = 0.08, 0.001
# Memory range (bytes, inclusive) for each whole vCPU count; None: no lower bound of its own.
MEMORY_FOR_CPU: dict[int, tuple[int | None, int]] = {
    1: (None, 4 * GIB),
    2: (None, 8 * GIB),
    4: (2 * GIB, 16 * GIB),
    6: (4 * GIB, 24 * GIB),
    8: (4 * GIB, 32 * GIB),
}
# Below 1 vCPU: the memory each fraction allows (at least this many vCPU -> up to bytes).
MEMORY_FOR_FRACTION = ((0.5, GIB), (MIN_CPU, 512 * MIB))
MIN_CONCURRENCY, MAX_CONCURRENCY = 1, 1000
CPU_CHOICES = "1, 2, 4, 6 or 8, or 0.08 to 1 in steps of 0.001"


class Settings(TypedDict, total=False):
    """A service's values as the rules read them; a change names only what it sets."""

    cpu: str
    memory: str
    concurrency: int
    min_instances: int
    max_instances: int
    execution_environment: str  # "gen1", "gen2", or "" when Cloud Run chooses
    cpu_always_allocated: bool  # instance-based billing (CPU outside requests too)


DEFAULTS: Settings = {
    "cpu": "1",
    "memory": "512Mi",
    "concurrency": 80,
    "min_instances": 0,
    "max_instances": 100,
    "execution_environment": "",
    "cpu_always_allocated": False,
}

_UNITS = {
    "": 1,
    "Ki": KIB,
    "Mi": MIB,
    "Gi": GIB,
    "Ti": TIB,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
}
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)([KMGT]i|[kKMGT])?")
_CPU = re.compile(r"(\d+(?:\.\d+)?)(m)?")


def parse_memory(text: str) -> int:
    """Bytes in a Kubernetes-style quantity: "512Mi", "2Gi", "1G", "1073741824"."""
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"memory {text!r} is not a size like 512Mi or 2Gi")
    number, unit = match.groups()
    return round(float(number) * _UNITS[unit or ""])


def parse_cpu(text: str) -> float:
    """CPUs in "1", "2", "0.5" or millicores "1000m"."""
    match = _CPU.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"CPU {text!r} is not a count like 1, 2 or 1000m")
    number, millis = match.groups()
    return float(number) / 1000 if millis else float(number)


def format_memory(size: int) -> str:
    """The shortest exact binary form: 4294967296 -> "4Gi", 805306368 -> "768Mi"."""
    for unit, factor in (("Ti", TIB), ("Gi", GIB), ("Mi", MIB), ("Ki", KIB)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


# --- entry points --------------------------------------------------------------------------


def validate(
    cpu: str,
    memory: str,
    concurrency: int,
    min_instances: int,
    max_instances: int,
    *,
    execution_environment: str = "",
    cpu_always_allocated: bool = False,
) -> list[str]:
    """Every rule the whole combination breaks; empty when Cloud Run would accept it."""
    values = _Values.of(
        {
            "cpu": cpu,
            "memory": memory,
            "concurrency": concurrency,
            "min_instances": min_instances,
            "max_instances": max_instances,
            "execution_environment": execution_environment,
            "cpu_always_allocated": cpu_always_allocated,
        }
    )
    return [problem for rule in RULES for problem in rule.check(values)]


def validate_change(current: Settings, changed: Settings) -> list[str]:
    """The rules a change breaks, judged on the combination it leaves.

    Only rules on a value the change sets are checked. A value checked alone (a CPU count, a
    concurrency) is refused whenever it is wrong; a combination (memory for the CPU, a
    fractional CPU's requirements, min against max) is refused only if the change breaks it:
    one the service already breaks does not make things worse, and Cloud Run judges it.
    """
    touched = {key for key, value in changed.items() if not _same(key, value, current)}
    before = _Values.of({**DEFAULTS, **current})
    after = _Values.of({**DEFAULTS, **current, **changed})
    problems: list[str] = []
    for rule in RULES:
        if not rule.keys & touched:
            continue
        broken = rule.check(after)
        if broken and (rule.alone or not rule.check(before)):
            problems += broken
    return problems


def settings_of(service: Service) -> Settings:
    """What the rules need to know of a service as it is."""
    return {
        "cpu": service.resources.cpu,
        "memory": service.resources.memory,
        "concurrency": service.concurrency,
        "min_instances": service.scaling.min_instances,
        "max_instances": service.scaling.max_instances,
        "execution_environment": service.execution_environment,
        "cpu_always_allocated": service.cpu_always_allocated,
    }


def requested(change: ServiceChange) -> Settings:
    """The values a change sets (None leaves a value as it is); its fields are Settings keys."""
    return cast(
        Settings, {key: value for key, value in asdict(change).items() if value is not None}
    )


def concurrency_problems(concurrency: int) -> list[str]:
    return _concurrency_range(_Values.of({**DEFAULTS, "concurrency": concurrency}))


def instance_problems(min_instances: int, max_instances: int) -> list[str]:
    """Min at least 0, max at least 1, and min not above max."""
    values = _Values.of(
        {**DEFAULTS, "min_instances": min_instances, "max_instances": max_instances}
    )
    return [problem for rule in RULES if rule.keys <= _INSTANCES for problem in rule.check(values)]


# --- the rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Values:
    """Settings with CPU and memory parsed (None where they are not well formed)."""

    raw: Settings
    cpus: float | None
    size: int | None

    @classmethod
    def of(cls, settings: Settings) -> _Values:
        return cls(
            settings, _try(parse_cpu, settings["cpu"]), _try(parse_memory, settings["memory"])
        )

    @property
    def fraction(self) -> float | None:
        """The CPU count when it is a valid value below 1."""
        return self.cpus if self.cpus is not None and _fractional(self.cpus) else None

    @property
    def whole(self) -> int | None:
        return int(self.cpus) if self.cpus in WHOLE_CPUS else None

    @property
    def min_memory(self) -> int:
        return MIN_MEMORY.get(self.raw["execution_environment"], MIN_MEMORY["gen2"])

    @property
    def memory_ok(self) -> bool:
        return self.size is not None and self.min_memory <= self.size <= MAX_MEMORY


@dataclass(frozen=True)
class _Rule:
    keys: frozenset[str]
    check: Callable[[_Values], list[str]]
    alone: bool = False  # checks one value by itself, not a combination


def _cpu_value(v: _Values) -> list[str]:
    cpu = v.raw["cpu"]
    if v.cpus is None:
        return [f"CPU {cpu!r} is not a number of CPUs; use {CPU_CHOICES}."]
    if v.whole is None and v.fraction is None:
        return [f"CPU {cpu} is not supported: use {CPU_CHOICES}."]
    return []


def _memory_value(v: _Values) -> list[str]:
    memory = v.raw["memory"]
    if v.size is None:
        return [f"Memory {memory!r} is not a size like 512Mi or 2Gi."]
    if v.size > MAX_MEMORY:
        return [f"Memory {memory} is out of range: Cloud Run allows at most 32Gi."]
    if v.size < v.min_memory:
        return [
            f"Memory {memory} is out of range: at least {format_memory(v.min_memory)}"
            f" {_generation_words(v.raw['execution_environment'])}."
        ]
    return []


def _memory_for_cpu(v: _Values) -> list[str]:
    if not v.memory_ok or v.size is None:
        return []
    if v.whole is not None:
        low, high = MEMORY_FOR_CPU[v.whole]
        if (low is None or low <= v.size) and v.size <= high:
            return []
        low_text = format_memory(low or v.min_memory)
        return [
            f"Memory {v.raw['memory']} does not fit {v.whole} CPU: for {v.whole} CPU, memory"
            f" must be between {low_text} and {format_memory(high)} inclusive."
        ]
    if v.fraction is not None:
        high = next(limit for floor, limit in MEMORY_FOR_FRACTION if v.fraction >= floor)
        if v.size > high:
            return [
                f"Memory {v.raw['memory']} does not fit {v.raw['cpu']} CPU: for {v.raw['cpu']}"
                f" CPU, memory must be at most {format_memory(high)} (more needs more CPU)."
            ]
    return []


def _fraction_needs(key: str, allowed: Callable[[object], bool], need: str) -> _Rule:
    """A rule for what a CPU below 1 requires of `key`; `need` may show the value as {}."""

    def check(v: _Values) -> list[str]:
        value = v.raw[key]  # type: ignore[literal-required]
        if v.fraction is None or allowed(value):
            return []
        return [f"With {v.raw['cpu']} CPU (below 1), {need.format(value)}."]

    return _Rule(_keys("cpu", key), check)


def _concurrency_range(v: _Values) -> list[str]:
    concurrency = v.raw["concurrency"]
    if MIN_CONCURRENCY <= concurrency <= MAX_CONCURRENCY:
        return []
    return [
        f"Concurrency {concurrency} is out of range: use {MIN_CONCURRENCY} to"
        f" {MAX_CONCURRENCY} requests per instance."
    ]


def _min_instances(v: _Values) -> list[str]:
    minimum = v.raw["min_instances"]
    return [f"Min instances {minimum} cannot be negative."] if minimum < 0 else []


def _max_instances(v: _Values) -> list[str]:
    maximum = v.raw["max_instances"]
    return [f"Max instances {maximum} must be at least 1."] if maximum < 1 else []


def _min_not_above_max(v: _Values) -> list[str]:
    minimum, maximum = v.raw["min_instances"], v.raw["max_instances"]
    if minimum < 0 or maximum < 1 or minimum <= maximum:
        return []
    return [f"Min instances ({minimum}) cannot be more than max ({maximum})."]


def _keys(*names: str) -> frozenset[str]:
    return frozenset(names)


_INSTANCES = _keys("min_instances", "max_instances")
RULES = (
    _Rule(_keys("cpu"), _cpu_value, alone=True),
    _Rule(_keys("memory", "execution_environment"), _memory_value, alone=True),
    _Rule(_keys("cpu", "memory"), _memory_for_cpu),
    _fraction_needs("concurrency", lambda n: n == 1, "concurrency must be 1, not {}"),
    _fraction_needs(
        "cpu_always_allocated",
        lambda always: not always,
        "CPU cannot be always allocated: the service must use request-based billing",
    ),
    _fraction_needs(
        "execution_environment",
        lambda generation: generation != "gen2",
        "the service must use the first generation execution environment, not the second",
    ),
    _Rule(_keys("concurrency"), _concurrency_range, alone=True),
    _Rule(_keys("min_instances"), _min_instances, alone=True),
    _Rule(_keys("max_instances"), _max_instances, alone=True),
    _Rule(_INSTANCES, _min_not_above_max),
)


# --- helpers -------------------------------------------------------------------------------


def _fractional(cpus: float) -> bool:
    """0.08 <= cpus < 1 in steps of 0.001."""
    millis = cpus * 1000
    return MIN_CPU <= cpus < 1 and abs(millis - round(millis)) < 1e-6


def _generation_words(environment: str) -> str:
    if environment == "gen2":
        return "on the second generation execution environment (128Mi on the first)"
    if environment == "gen1":
        return "on the first generation execution environment"
    return "(512Mi on the second generation execution environment)"


def _same(key: str, value: object, current: Settings) -> bool:
    """Whether a changed value equals the current one (1Gi is 1024Mi, 1 is 1000m)."""
    if key not in current:
        return False
    before: object = current[key]  # type: ignore[literal-required]
    if value == before:
        return True
    parse = {"cpu": parse_cpu, "memory": parse_memory}.get(key)
    if parse is None:
        return False
    parsed = _try(parse, str(value))
    return parsed is not None and parsed == _try(parse, str(before))


def _try(parse: Callable[[str], T], text: str) -> T | None:
    try:
        return parse(text)
    except ValueError:
        return None
