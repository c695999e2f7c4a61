"""What Cloud Run accepts for a container's CPU and memory, concurrency and instance counts.

The emulator's own reading of Google's documentation, kept apart from the bot's
(`gcp.run_rules`) on purpose: each is a witness for the other.

- https://cloud.google.com/run/docs/configuring/services/cpu : 0.08 to 8 vCPU; fractions in
  steps of 0.001; below 1 vCPU, memory above 512 MiB needs at least 0.5 vCPU and above
  1 GiB at least 1 vCPU, concurrency must be 1, CPU must be request-based (billing settings)
  and the execution environment first generation.
- https://cloud.google.com/run/docs/configuring/services/memory-limits : up to 32 GiB;
  minimum 128 MiB on the first generation and 512 MiB on the second; the vCPU table.
- https://cloud.google.com/run/docs/about-concurrency : up to 1000 requests per instance.
- https://cloud.google.com/run/docs/configuring/min-instances and max-instances.
"""

from __future__ import annotations

import re
from decimal import Decimal

from google.cloud import run_v2

GEN1 = int(run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN1)
GEN2 = int(run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN2)
MI = 1 << 20
# (from this many millicores, memory at least, memory at most), in MiB; the last row whose
# millicores are not above the request applies. Whole vCPUs other than these are refused.
CPU_ROWS = (
    (80, 0, 512),
    (500, 0, 1024),
    (1000, 0, 4096),
    (2000, 0, 8192),
    (4000, 2048, 16384),
    (6000, 4096, 24576),
    (8000, 4096, 32768),
)
WHOLE_MILLICORES = {1000, 2000, 4000, 6000, 8000}
FLOOR_MIB = {GEN1: 128, GEN2: 512}
UNSPECIFIED_FLOOR_MIB = 128  # Cloud Run then picks the generation, first below 512 MiB
CEILING_MIB = 32768
CONCURRENCY_CEILING = 1000
_SUFFIX = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 1 << 10, "Mi": MI, "Gi": 1 << 30}
_MEMORY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(k|M|G|Ki|Mi|Gi)?")
_CPU = re.compile(r"([0-9]+(?:\.[0-9]+)?)(m?)")


def container_problems(
    limits: dict[str, str], cpu_idle: bool, concurrency: int, generation: int
) -> list[str]:
    """Cloud Run's answer to one container's limits within its template."""
    cores = millicores(limits["cpu"])
    mebibytes = _mebibytes(limits["memory"])
    problems: list[str] = []
    if cores is None or not _offered(cores):
        problems.append(
            f"Invalid value specified for cpu: '{limits['cpu']}'. Use 1, 2, 4, 6 or 8 vCPU,"
            " or from 0.08 to 1 vCPU in steps of 0.001."
        )
    if mebibytes is None:
        return [*problems, f"Invalid value specified for memory: '{limits['memory']}'."]
    floor = FLOOR_MIB.get(generation, UNSPECIFIED_FLOOR_MIB)
    if not floor <= mebibytes <= CEILING_MIB:
        return [
            *problems,
            f"Invalid value specified for memory: '{limits['memory']}'. Memory must be"
            f" between {_shown(floor)} and 32Gi for this execution environment.",
        ]
    if problems or cores is None:
        return problems
    return _memory_for(cores, mebibytes) + _fraction_needs(cores, cpu_idle, concurrency, generation)


def concurrency_problems(concurrency: int) -> list[str]:
    if 0 < concurrency <= CONCURRENCY_CEILING:
        return []
    return [
        f"Invalid value specified for max_instance_request_concurrency: {concurrency}."
        f" It must be between 1 and {CONCURRENCY_CEILING}."
    ]


def instance_problems(minimum: int, maximum: int) -> list[str]:
    """`maximum` 0 means unset in the API: only the minimum is checked then."""
    if minimum < 0:
        return [f"min_instance_count must not be negative; got {minimum}."]
    if maximum < 0:
        return [f"max_instance_count must not be negative; got {maximum}."]
    if maximum and minimum > maximum:
        return [
            f"min_instance_count ({minimum}) must not be greater than"
            f" max_instance_count ({maximum})."
        ]
    return []


def _memory_for(millicores: int, mebibytes: int) -> list[str]:
    _, low, high = [row for row in CPU_ROWS if row[0] <= millicores][-1]
    if low <= mebibytes <= high:
        return []
    cpus = f"{millicores / 1000:g}"
    floor = f" between {_shown(low)} and" if low else " at most"
    return [
        f"Invalid value specified for memory. For {cpus} CPU, memory must be{floor}"
        f" {_shown(high)} inclusive."
    ]


def _fraction_needs(
    millicores: int, cpu_idle: bool, concurrency: int, generation: int
) -> list[str]:
    if millicores >= 1000:
        return []
    needs = []
    if concurrency != 1:
        needs.append(f"max_instance_request_concurrency must be 1, not {concurrency}")
    if not cpu_idle:
        needs.append("CPU must be allocated only during requests (cpu_idle)")
    if generation == GEN2:
        needs.append("the execution environment must be the first generation")
    if not needs:
        return []
    return [f"With less than 1 CPU ({millicores}m): " + "; ".join(needs) + "."]


def _offered(millicores: int) -> bool:
    return millicores in WHOLE_MILLICORES or CPU_ROWS[0][0] <= millicores < 1000


def millicores(text: str) -> int | None:
    """ "2" -> 2000, "0.5" -> 500, "250m" -> 250; None unless a whole number of millicores."""
    match = _CPU.fullmatch(text)
    if match is None:
        return None
    value = Decimal(match.group(1)) * (1 if match.group(2) else 1000)
    return int(value) if value == value.to_integral_value() else None


def _mebibytes(text: str) -> int | None:
    match = _MEMORY.fullmatch(text)
    if match is None:
        return None
    size = Decimal(match.group(1)) * _SUFFIX[match.group(2) or ""]
    whole, part = divmod(size, MI)
    return int(whole) + (1 if part else 0)


def _shown(mebibytes: int) -> str:
    return f"{mebibytes // 1024}Gi" if mebibytes % 1024 == 0 else f"{mebibytes}Mi"
