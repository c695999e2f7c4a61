"""The /ops grammar: valid commands parse, bad ones name the problem and suggest a fix."""

from __future__ import annotations

import shlex
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.registry import parse
from handlers.commands import UsageError, _tokens
from handlers.config import FLUXORI_DEFAULTS as CONFIG


def test_empty_text_is_help() -> None:
    """`/ops` alone shows help."""
    assert parse("   ", CONFIG).verb == "help"


def test_status_defaults_to_configured_environment() -> None:
    """Without --env the config's default environment is used."""
    cmd = parse("status fluxori-backend", CONFIG)
    assert (cmd.verb, cmd.service, cmd.env) == ("status", "fluxori-backend", "prod")


@pytest.mark.parametrize("flag", ["--env staging", "--env=staging"])
def test_env_flag_in_both_spellings(flag: str) -> None:
    """`--env X` and `--env=X` are the same."""
    assert parse(f"status fluxori-frontend {flag}", CONFIG).env == "staging"


def test_errors_with_since_and_limit() -> None:
    """Durations and limits are converted and kept."""
    cmd = parse("errors fluxori-backend --since 30m --limit 5", CONFIG)
    assert cmd.since == timedelta(minutes=30)
    assert cmd.limit == 5


def test_logs_preset() -> None:
    """`logs SERVICE PRESET` names one of the runbook's presets."""
    assert parse("logs fluxori-backend slow-queries", CONFIG).preset == "slow-queries"


def test_scale_settings_any_order() -> None:
    """Scale takes key=value pairs in any combination."""
    cmd = parse("scale fluxori-backend memory=2Gi min=5", CONFIG)
    assert cmd.settings == {"memory": "2Gi", "min": "5"}


def test_rotate_secret_defaults_to_the_configured_secret() -> None:
    """`rotate-secret` with no name rotates jwt-secret, the one configured secret."""
    assert parse("rotate-secret", CONFIG).secret == "jwt-secret"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stauts fluxori-backend", "Did you mean `status`?"),
        ("status fluxori-backnd", "Did you mean `fluxori-backend`?"),
        ("status fluxori-backend --env prd", "Did you mean `prod`?"),
        ("logs fluxori-backend slow-query", "Did you mean `slow-queries`?"),
        ("status fluxori-backend --enviroment prod", "Did you mean `--env`?"),
        ("errors fluxori-backend --since 5parsecs", "not a duration"),
        ("errors fluxori-backend --since 90d", "between 1m and 30d"),
        ("revisions fluxori-backend --limit 0", "from 1 to 100"),
        ("revisions fluxori-backend --limit", "needs a value"),
        ("status", "needs a service"),
        ("status fluxori-backend extra", "did not expect `extra`"),
        ("scale fluxori-backend mem=2Gi", "Did you mean `memory`?"),
        ("rollback fluxori-backend --to 'bad name'", "not a revision name"),
        ('status "unclosed', "Check your quotes"),
        ('errors fluxori-backend" OR "x', "Unknown service `fluxori-backend OR x`"),
        ('status fluxori-backend" severity>=DEBUG', "Check your quotes"),
    ],
)
def test_bad_input_names_the_problem(text: str, expected: str) -> None:
    """Each kind of bad input gets a message that says what is wrong and how to fix it."""
    with pytest.raises(UsageError, match=expected.replace("?", r"\?").replace("(", r"\(")):
        parse(text, CONFIG)


def test_service_names_never_reach_a_filter_unchecked() -> None:
    """A service name carrying filter syntax is refused as an unknown service."""
    with pytest.raises(UsageError, match="Unknown service"):
        parse("errors 'fluxori-backend OR severity>=DEBUG'", CONFIG)


@given(st.text(alphabet=st.sampled_from(" \t\r\n\x0b\xa0ab-=_@<>#;&|.'\"\\"), max_size=24))
def test_words_are_split_as_a_shell_splits_them(text: str) -> None:
    """Every text is split into the same words as shlex.split, or refused when it cannot
    be read; quoted words keep their spaces."""
    try:
        expected: list[str] | None = shlex.split(text)
    except ValueError:
        expected = None
    try:
        assert _tokens(text) == expected
    except ValueError:
        assert expected is None
