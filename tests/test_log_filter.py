"""The emulator's Cloud Logging filter subset: what it matches, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from gcp.emulator.log_filter import FilterError, parse

ENTRY: dict[str, Any] = {
    "logName": "projects/fluxori-prod/logs/run.googleapis.com%2Fstdout",
    "resource": {
        "type": "cloud_run_revision",
        "labels": {"service_name": "fluxori-backend", "revision_name": "fluxori-backend-00042-abc"},
    },
    "timestamp": "2025-03-01T10:30:00.250Z",
    "severity": "ERROR",
    "jsonPayload": {"message": "Slow query", "responseTime": 1350.0, "ok": False},
    "httpRequest": {"status": 503, "latency": "1.350s", "requestMethod": "GET"},
}


@pytest.mark.parametrize(
    "query",
    [
        "",
        'resource.type="cloud_run_revision"',
        "resource.type=cloud_run_revision",
        'resource.labels.service_name="fluxori-backend"',
        'resource.labels.revision_name="fluxori-backend-00042-abc"',
        "severity>=ERROR",
        "severity=ERROR",
        "severity>WARNING",
        "severity<CRITICAL",
        "severity<=error",
        'jsonPayload.message="Slow query"',
        'json_payload.message="Slow query"',
        'jsonPayload.message:"slow QUERY"',
        'jsonPayload.message=~"^Slow q"',
        "jsonPayload.responseTime>1000",
        "jsonPayload.responseTime=1350",
        "jsonPayload.ok=false",
        'httpRequest.latency>"1s"',
        "http_request.status>=500",
        'http_request.request_method="GET"',
        'timestamp>="2025-03-01T10:00:00Z"',
        'timestamp<"2025-03-01T11:00:00+00:00"',
        'logName:"stdout"',
        'resource.type="cloud_run_revision" AND severity>=ERROR',
        'resource.type="cloud_run_revision" severity>=ERROR',
        '(resource.labels.service_name="fluxori-backend" AND (severity>=ERROR))',
        'resource.labels.service_name="fluxori-backend"\n  AND jsonPayload.message=~"Slow"',
    ],
)
def test_supported_forms_match_the_entry(query: str) -> None:
    """Every supported comparison form, spelling and conjunction matches a fitting entry."""
    assert parse(query).matches(ENTRY)


@pytest.mark.parametrize(
    "query",
    [
        'resource.type="gae_app"',
        'resource.labels.service_name="fluxori-frontend"',
        "severity>=CRITICAL",
        "severity<ERROR",
        'jsonPayload.message="Slow"',
        'jsonPayload.message:"timeout"',
        'jsonPayload.message=~"^query"',
        "jsonPayload.responseTime>2000",
        'jsonPayload.missing="x"',
        'httpRequest.latency>"2s"',
        'timestamp>="2025-03-01T11:00:00Z"',
        'timestamp<"2025-03-01T10:30:00Z"',
        'severity>=ERROR AND resource.type="gae_app"',
    ],
)
def test_non_matching_forms_do_not_match(query: str) -> None:
    """A comparison the entry fails, or a missing field, excludes the entry."""
    assert not parse(query).matches(ENTRY)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ('severity>=ERROR OR severity="INFO"', "OR"),
        ('NOT severity="INFO"', "NOT"),
        ('-severity="INFO"', "negation"),
        ('severity!="INFO"', "'!='"),
        ('jsonPayload.message!~"x"', "'!~'"),
        ('"Slow query"', "bare text"),
        ("timeout", "bare text"),
        ('foo.bar="x"', "unknown"),
        ('resource.name="x"', "unknown"),
        ('httpRequest.nonsense="x"', "unknown"),
        ('resource.labels="x"', "unknown"),
        ('jsonPayload:"Slow query"', "unknown"),
        ("sample(insertId, 0.1)", "operator"),
        ("severity>=LOUD", "unknown severity"),
        ('timestamp>="yesterday"', "RFC 3339"),
        ("timestamp>=2025-03-01T10:00:00Z", "quoted"),
        ('httpRequest.latency>"1000ms"', "duration"),
        ('jsonPayload.message=~"(unclosed"', "regular expression"),
        ('severity:"ERROR"', "cannot be used"),
        ("(severity>=ERROR", "not closed"),
        ("severity>=ERROR)", "unexpected"),
        ("()", "empty"),
        ("AND severity>=ERROR", "left"),
        ("severity>=ERROR AND", "right"),
        ("severity>=", "ends early"),
        ('jsonPayload.message="unterminated', "unexpected"),
        ("severity = = ERROR", "expected a value"),
    ],
)
def test_unsupported_or_malformed_filters_are_refused(query: str, named: str) -> None:
    """Anything outside the subset raises FilterError naming the problem, never matching."""
    with pytest.raises(FilterError, match=named):
        parse(query)


def test_default_severity_is_compared_when_absent() -> None:
    """An entry without severity counts as DEFAULT, below every named severity."""
    entry = {"resource": {"type": "cloud_run_revision"}}
    assert parse("severity=DEFAULT").matches(entry)
    assert not parse("severity>=DEBUG").matches(entry)


def test_objects_never_match_scalar_comparisons() -> None:
    """Comparing a whole JSON object to a string matches nothing (no accidental repr match)."""
    assert not parse('jsonPayload.user:"ops"').matches({"jsonPayload": {"user": {"id": "ops"}}})
