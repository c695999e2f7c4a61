"""The bot's reading of Cloud Run's limits, case by case from Google's documentation.

Cases cite the pages gcp/run_rules.py names: CPU limits (services), memory limits,
concurrency, min/max instances and execution environments.
"""

from __future__ import annotations

import pytest

from gcp import run_rules
from gcp.run_rules import Settings

SEEDED: Settings = {
    "cpu": "1",
    "memory": "1Gi",
    "concurrency": 80,
    "min_instances": 2,
    "max_instances": 10,
    "execution_environment": "gen2",
    "cpu_always_allocated": False,
}
# A fractional-CPU service that breaks the documented rules (concurrency 80 on the second
# generation): its current values are not the change's business.
OFF_THE_TABLE: Settings = {**SEEDED, "cpu": "0.5", "memory": "512Mi"}


def assert_only(problems: list[str], fragment: str | None) -> None:
    """No problem when `fragment` is None, else exactly one, containing it."""
    if fragment is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert fragment in problems[0]


def test_validate_accepts_the_seeded_values() -> None:
    """The seed's backend values break no rule."""
    assert run_rules.validate("1", "1Gi", 80, 2, 10, execution_environment="gen2") == []


@pytest.mark.parametrize(
    ("cpu", "memory", "fragment"),
    [
        ("1", "4Gi", None),  # 1 vCPU: up to 4 GiB
        ("1", "4097Mi", "for 1 CPU, memory must be between 512Mi and 4Gi"),
        ("2", "8Gi", None),  # 2 vCPU: up to 8 GiB
        ("2", "9Gi", "for 2 CPU, memory must be between 512Mi and 8Gi"),
        ("4", "2Gi", None),  # 4 vCPU: 2 to 16 GiB
        ("4", "1Gi", "for 4 CPU, memory must be between 2Gi and 16Gi"),
        ("4", "17Gi", "for 4 CPU"),
        ("6", "4Gi", None),  # 6 vCPU: 4 to 24 GiB
        ("6", "24Gi", None),
        ("6", "32Gi", "for 6 CPU, memory must be between 4Gi and 24Gi"),
        ("6", "3Gi", "for 6 CPU, memory must be between 4Gi and 24Gi"),
        ("8", "32Gi", None),  # 8 vCPU: 4 to 32 GiB
        ("8", "2Gi", "for 8 CPU, memory must be between 4Gi and 32Gi"),
        ("1000m", "512Mi", None),
        ("4000m", "2Gi", None),
        ("1", "511Mi", "out of range"),  # second generation: at least 512 MiB
        ("8", "33Gi", "out of range"),  # at most 32 GiB
        ("3", "1Gi", "CPU 3 is not supported"),  # above 1, only 1, 2, 4, 6, 8
        ("9", "1Gi", "CPU 9 is not supported"),  # at most 8 vCPU
        ("lots", "1Gi", "not a number of CPUs"),
        ("1", "1 GB", "not a size like 512Mi or 2Gi"),
    ],
)
def test_memory_must_fit_the_cpu(cpu: str, memory: str, fragment: str | None) -> None:
    """CPU is 1/2/4/6/8 (or a fraction) and memory fits the documented range for it."""
    problems = run_rules.validate(cpu, memory, 80, 0, 10, execution_environment="gen2")
    assert_only(problems, fragment)


@pytest.mark.parametrize(
    ("cpu", "memory", "fragment"),
    [
        ("0.08", "512Mi", None),  # the minimum vCPU
        ("80m", "128Mi", None),  # first generation: memory from 128 MiB
        ("0.07", "512Mi", "CPU 0.07 is not supported"),
        ("0.0805", "512Mi", "CPU 0.0805 is not supported"),  # steps of 0.001
        ("0.333", "512Mi", None),
        ("0.333", "513Mi", "memory must be at most 512Mi"),  # over 512 MiB needs 0.5 vCPU
        ("0.5", "1Gi", None),
        ("0.5", "1025Mi", "memory must be at most 1Gi"),  # over 1 GiB needs 1 vCPU
        ("999m", "2Gi", "memory must be at most 1Gi"),
    ],
)
def test_a_fraction_of_a_cpu_with_its_requirements(
    cpu: str, memory: str, fragment: str | None
) -> None:
    """0.08 to 1 vCPU in steps of 0.001, with concurrency 1, request-based CPU, gen1."""
    problems = run_rules.validate(cpu, memory, 1, 0, 10, execution_environment="gen1")
    assert_only(problems, fragment)


@pytest.mark.parametrize(
    ("concurrency", "always", "environment", "fragment"),
    [
        (80, False, "gen1", "concurrency must be 1, not 80"),
        (1, True, "gen1", "CPU cannot be always allocated"),
        (1, False, "gen2", "must use the first generation execution environment"),
        (1, False, "", None),  # Cloud Run chooses the generation
    ],
)
def test_what_less_than_one_cpu_requires(
    concurrency: int, always: bool, environment: str, fragment: str | None
) -> None:
    """Below 1 vCPU: concurrency 1, request-based billing, first generation."""
    problems = run_rules.validate(
        "0.5",
        "512Mi",
        concurrency,
        0,
        10,
        execution_environment=environment,
        cpu_always_allocated=always,
    )
    assert_only(problems, fragment)


@pytest.mark.parametrize(
    ("environment", "fragment"),
    [("gen1", None), ("", None), ("gen2", "at least 512Mi on the second generation")],
)
def test_the_first_generation_allows_less_memory(environment: str, fragment: str | None) -> None:
    """Minimum memory: 128 MiB on the first generation, 512 MiB on the second."""
    problems = run_rules.validate("1", "256Mi", 80, 0, 10, execution_environment=environment)
    assert_only(problems, fragment)


@pytest.mark.parametrize(
    ("concurrency", "min_instances", "max_instances", "fragment"),
    [
        (1, 0, 1, None),
        (1000, 10, 10, None),
        (0, 0, 1, "Concurrency 0"),
        (1001, 0, 1, "Concurrency 1001"),
        (80, 5, 3, "Min instances (5) cannot be more than max (3)"),
        (80, -1, 3, "cannot be negative"),
        (80, 0, 0, "Max instances 0 must be at least 1"),
    ],
)
def test_concurrency_and_instances_have_bounds(
    concurrency: int, min_instances: int, max_instances: int, fragment: str | None
) -> None:
    """Concurrency is 1-1000; min instances are 0..max and max is at least 1."""
    problems = run_rules.validate("1", "512Mi", concurrency, min_instances, max_instances)
    assert_only(problems, fragment)


def test_validate_reports_every_broken_rule() -> None:
    """Several wrong values give one message each."""
    assert len(run_rules.validate("3", "64Gi", 0, 5, 1)) == 4


# --- validate_change -----------------------------------------------------------------------


def test_a_change_to_6_cpu_and_32gi_is_refused() -> None:
    """The documented 6 vCPU range ends at 24 GiB: 6 CPU with 32 GiB is refused."""
    problems = run_rules.validate_change(SEEDED, {"cpu": "6", "memory": "32Gi"})
    assert problems == [
        "Memory 32Gi does not fit 6 CPU: for 6 CPU, memory must be between 4Gi and 24Gi inclusive."
    ]


def test_max_instances_on_a_fractional_cpu_service_validates() -> None:
    """max=20 touches no CPU rule: a current CPU the rules dislike is no reason to refuse."""
    assert run_rules.validate("0.5", "512Mi", 80, 2, 10, execution_environment="gen2") != []
    assert run_rules.validate_change(OFF_THE_TABLE, {"max_instances": 20}) == []


def test_a_combination_the_change_breaks_is_refused() -> None:
    """Moving a 1 CPU, concurrency 80, gen2 service to 0.5 CPU breaks what fractions need."""
    problems = run_rules.validate_change(SEEDED, {"cpu": "0.5", "memory": "512Mi"})
    assert len(problems) == 2
    assert "concurrency must be 1" in problems[0]
    assert "first generation" in problems[1]


def test_a_combination_already_broken_is_left_to_cloud_run() -> None:
    """A change that keeps an already-broken pair broken is not refused; a bad value is."""
    broken: Settings = {**SEEDED, "cpu": "6", "memory": "32Gi"}
    assert run_rules.validate_change(broken, {"memory": "28Gi"}) == []
    assert run_rules.validate_change(broken, {"cpu": "3"}) == [
        "CPU 3 is not supported: use 1, 2, 4, 6 or 8, or 0.08 to 1 in steps of 0.001."
    ]


def test_values_equal_to_the_current_ones_are_not_changes() -> None:
    """1024Mi is 1Gi and 1000m is 1: the form's unchanged fields are not checked."""
    unchanged: Settings = {"cpu": "1000m", "memory": "1024Mi", "concurrency": 80}
    assert run_rules.validate_change(OFF_THE_TABLE | {"cpu": "1"}, unchanged) == []
    assert run_rules.validate_change(OFF_THE_TABLE, {"cpu": "500m", "min_instances": 3}) == []


def test_min_above_the_current_max_is_refused() -> None:
    """min=12 against today's max of 10 is a combination the change breaks."""
    assert run_rules.validate_change(SEEDED, {"min_instances": 12}) == [
        "Min instances (12) cannot be more than max (10)."
    ]


# --- quantities ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [("512Mi", 512 * 1024**2), ("2Gi", 2 * 1024**3), ("1G", 10**9), ("1024", 1024)],
)
def test_parse_memory_reads_binary_and_decimal_units(text: str, size: int) -> None:
    """Memory quantities parse like Kubernetes': Mi/Gi binary, M/G decimal, bare bytes."""
    assert run_rules.parse_memory(text) == size


def test_parse_cpu_reads_counts_and_millicores() -> None:
    """CPU parses as a count or in millicores."""
    assert run_rules.parse_cpu("2") == 2.0
    assert run_rules.parse_cpu("1000m") == 1.0
    assert run_rules.format_memory(run_rules.parse_memory("768Mi")) == "768Mi"
