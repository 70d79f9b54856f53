"""Configuration: every variable validated; a bad one is one clear line naming it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.settings import ConfigError, HistoryReplay, StreamingMode, load_settings

BASE = {
    "slack_bot_token": "xoxb-1",
    "slack_signing_secret": "s",
    "bedrock_agent_id": "A",
    "bedrock_agent_alias_id": "B",
}


def test_defaults_follow_the_spec() -> None:
    settings = load_settings(**BASE, _env_file=None)
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.session_idle_seconds == 3600
    assert settings.history_max_turns == 20
    assert settings.history_ttl_days == 30
    assert settings.history_replay is HistoryReplay.CONVERSATION_HISTORY
    assert settings.agent_idle_timeout_seconds == 90
    assert settings.slack_streaming is StreamingMode.AUTO
    assert settings.stream_update_interval_ms == 800
    assert settings.order_command == "/order"
    assert settings.port == 3000
    assert settings.http_mode


def test_allowed_channels_is_a_comma_separated_list() -> None:
    settings = load_settings(**BASE, allowed_channels="C1, C2,,", _env_file=None)
    assert settings.allowed_channels == frozenset({"C1", "C2"})


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"slack_bot_token": "xoxp-user"}, "SLACK_BOT_TOKEN"),
        ({"slack_streaming": "sometimes"}, "SLACK_STREAMING"),
        ({"session_idle_seconds": "0"}, "SESSION_IDLE_SECONDS"),
        ({"redis_url": "http://nope"}, "REDIS_URL"),
        ({"order_id_pattern": "(["}, "ORDER_ID_PATTERN"),
        ({"bedrock_agent_id": ""}, "BEDROCK_AGENT_ID"),
        ({"slack_signing_secret": None}, "SLACK_SIGNING_SECRET"),
    ],
)
def test_a_bad_value_names_its_variable(override: dict[str, str | None], variable: str) -> None:
    values = {k: v for k, v in (BASE | override).items() if v is not None}
    with pytest.raises(ConfigError) as error:
        load_settings(**values, _env_file=None)
    assert variable in str(error.value)
    assert "\n" not in str(error.value)


def test_socket_mode_needs_no_signing_secret() -> None:
    values = {k: v for k, v in BASE.items() if k != "slack_signing_secret"}
    settings = load_settings(**values, slack_app_token="xapp-1", _env_file=None)
    assert not settings.http_mode


def test_start_up_with_bad_config_prints_one_line_per_variable_and_no_traceback(
    tmp_path: object,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BEDROCK_"))}
    # A token but no signing secret (with no Slack configured at all, the playground starts).
    env["SLACK_BOT_TOKEN"] = "xoxb-configured"
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(tmp_path),
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: SLACK_SIGNING_SECRET: required in HTTP mode "
        "(or set SLACK_APP_TOKEN for Socket Mode)"
    )


def test_every_bad_variable_is_reported_in_one_run() -> None:
    values = {
        "slack_bot_token": "xoxp-user",
        "session_idle_seconds": "0",
        "redis_url": "http://nope",
        "agent_backend": "agentcore",
    }
    with pytest.raises(ConfigError) as error:
        load_settings(**values, _env_file=None)
    lines = str(error.value).splitlines()
    named = [line.removeprefix("configuration error: ").split()[0].rstrip(":") for line in lines]
    assert sorted(named) == [
        "AGENTCORE_RUNTIME_ARN",
        "REDIS_URL",
        "SESSION_IDLE_SECONDS",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
    ]


def test_secrets_never_show_in_the_settings_repr() -> None:
    settings = load_settings(**BASE | {"slack_bot_token": "xoxb-very-secret"}, _env_file=None)
    assert "very-secret" not in repr(settings)


def test_a_blank_signing_secret_counts_as_unset() -> None:
    values = BASE | {"slack_signing_secret": "  "}
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        load_settings(**values, _env_file=None)
    settings = load_settings(**values, slack_app_token="xapp-1", _env_file=None)
    assert settings.slack_signing_secret is None and not settings.http_mode


HARNESS = "arn:aws:bedrock-agentcore:us-east-1:123456789012:harness/handbook-a1b2c3d4e5"


@pytest.mark.parametrize(
    ("backend", "extra", "idle"),
    [
        ("bedrock-agents", {}, 3600),
        ("agentcore", {"agentcore_runtime_arn": "arn:runtime"}, 900),
        ("harness", {"agentcore_harness_arn": HARNESS}, 900),
    ],
)
def test_session_idle_seconds_defaults_to_the_backends_idle_timeout(
    backend: str, extra: dict[str, str], idle: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SESSION_IDLE_SECONDS", raising=False)
    settings = load_settings(**BASE, agent_backend=backend, **extra, _env_file=None)
    assert settings.session_idle_seconds == idle
    monkeypatch.setenv("SESSION_IDLE_SECONDS", "42")  # set explicitly: taken as it is
    assert load_settings(**BASE, agent_backend=backend, **extra).session_idle_seconds == 42


def test_the_harness_backend_needs_its_arn() -> None:
    with pytest.raises(
        ConfigError, match="AGENTCORE_HARNESS_ARN: required when AGENT_BACKEND=harness"
    ):
        load_settings(**BASE, agent_backend="harness", _env_file=None)
    settings = load_settings(**BASE, agent_backend="harness", agentcore_harness_arn=HARNESS)
    assert settings.agentcore_harness_qualifier is None
