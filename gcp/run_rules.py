"""Cloud Run's limits on a service's resources, concurrency and instances.

Shared by the bot (to refuse a plan before anything is sent) and by `gcp.emulator` (to
answer INVALID_ARGUMENT as Cloud Run does). Every function is pure; a problem is one
sentence an on-call engineer can act on.
"""

from __future__ import annotations

import re

KIB, MIB, GIB, TIB = 1024, 1024**2, 1024**3, 1024**4
MIN_MEMORY = 512 * MIB
MAX_MEMORY = 32 * GIB
CPUS = (1, 2, 4, 6, 8)
# Cloud Run's documented memory range for each CPU count (bytes, inclusive).
MEMORY_FOR_CPU = {
    1: (MIN_MEMORY, 4 * GIB),
    2: (MIN_MEMORY, 8 * GIB),
    4: (2 * GIB, 16 * GIB),
    6: (4 * GIB, 32 * GIB),
    8: (4 * GIB, 32 * GIB),
}
MIN_CONCURRENCY, MAX_CONCURRENCY = 1, 1000

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


def validate(
    cpu: str, memory: str, concurrency: int, min_instances: int, max_instances: int
) -> list[str]:
    """One message per rule the values break; empty when Cloud Run would accept them."""
    return (
        resource_problems(cpu, memory)
        + concurrency_problems(concurrency)
        + instance_problems(min_instances, max_instances)
    )


def resource_problems(cpu: str, memory: str) -> list[str]:
    """CPU must be 1, 2, 4, 6 or 8; memory 512Mi-32Gi, within the range the CPU count allows."""
    problems: list[str] = []
    cpus = _cpu_count(cpu, problems)
    size = _memory_size(memory, problems)
    if size is None:
        return problems
    if not MIN_MEMORY <= size <= MAX_MEMORY:
        problems.append(
            f"Memory {memory} is out of range: Cloud Run allows"
            f" {format_memory(MIN_MEMORY)} to {format_memory(MAX_MEMORY)}."
        )
    elif cpus is not None:
        low, high = MEMORY_FOR_CPU[cpus]
        if not low <= size <= high:
            problems.append(
                f"Memory {memory} does not fit {cpus} CPU: for {cpus} CPU, memory must be"
                f" between {format_memory(low)} and {format_memory(high)} inclusive."
            )
    return problems


def concurrency_problems(concurrency: int) -> list[str]:
    if MIN_CONCURRENCY <= concurrency <= MAX_CONCURRENCY:
        return []
    return [
        f"Concurrency {concurrency} is out of range: use {MIN_CONCURRENCY} to"
        f" {MAX_CONCURRENCY} requests per instance."
    ]


def instance_problems(min_instances: int, max_instances: int) -> list[str]:
    """Min at least 0, max at least 1, and min not above max."""
    if min_instances < 0:
        return [f"Min instances {min_instances} cannot be negative."]
    if max_instances < 1:
        return [f"Max instances {max_instances} must be at least 1."]
    if min_instances > max_instances:
        return [f"Min instances ({min_instances}) cannot be more than max ({max_instances})."]
    return []


def _cpu_count(cpu: str, problems: list[str]) -> int | None:
    try:
        count = parse_cpu(cpu)
    except ValueError:
        problems.append(f"CPU {cpu!r} is not a number of CPUs; use 1, 2, 4, 6 or 8.")
        return None
    if count not in CPUS:
        problems.append(f"CPU {cpu} is not supported: use 1, 2, 4, 6 or 8.")
        return None
    return int(count)


def _memory_size(memory: str, problems: list[str]) -> int | None:
    try:
        return parse_memory(memory)
    except ValueError:
        problems.append(f"Memory {memory!r} is not a size like 512Mi or 2Gi.")
        return None
