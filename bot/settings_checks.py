"""Pure checks of configuration values (no environment is read here: bot/settings.py reads).

The backends and modes, what each mode still needs, and one clear line per bad variable.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic_core import InitErrorDetails

from bot.installations.crypto import parse_keys


class AgentBackend(StrEnum):
    BEDROCK_AGENTS = "bedrock-agents"
    AGENTCORE = "agentcore"
    HARNESS = "harness"
    DEMO = "demo"  # the built-in scripted agent (bot/playground/demo_agent.py): no AWS needed


# AgentCore Runtime (and so a harness) ends a session after 15 idle minutes unless configured
# otherwise; Bedrock Agents' idleSessionTTLInSeconds is commonly an hour.
DEFAULT_IDLE_SECONDS = {
    AgentBackend.BEDROCK_AGENTS: 3600,
    AgentBackend.AGENTCORE: 900,
    AgentBackend.HARNESS: 900,
    AgentBackend.DEMO: 3600,
}


class HistoryReplay(StrEnum):
    CONVERSATION_HISTORY = "conversation_history"
    INPUT_PREAMBLE = "input_preamble"


class StreamingMode(StrEnum):
    AUTO = "auto"
    NATIVE = "native"
    UPDATE = "update"
    OFF = "off"  # post the answer once complete: what a non-streaming bot does (a baseline)


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


def token(value: SecretStr | None, prefix: str, what: str) -> SecretStr | None:
    """A Slack token: blank is unset; otherwise it starts with its kind's prefix."""
    if value is not None and not value.get_secret_value():
        return None
    if value is not None and not value.get_secret_value().startswith(prefix):
        raise ValueError(f"must be {what} starting with {prefix}")
    return value


def json_value(value: Any, *, example: str) -> Any:
    """A JSON variable's value (blank: an empty object); other types pass through."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value) if value.strip() else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"must be JSON like {example} ({exc.msg})") from None


_AGENT = re.compile(
    r"^(arn:aws[\w-]*:bedrock-agentcore:.+:runtime/.+|[0-9A-Za-z]{10}/[0-9A-Za-z]{10})$"
)


def workspace_agents(value: Any) -> Any:
    """WORKSPACE_AGENTS: a JSON object of workspace → AGENTID/ALIASID or runtime ARN."""
    value = json_value(value, example='{"T0123": "AGENTID/ALIASID"}')
    if not isinstance(value, dict):
        raise ValueError('must be a JSON object like {"T0123": "AGENTID/ALIASID"}')
    for workspace, agent in value.items():
        if not isinstance(agent, str) or not _AGENT.match(agent):
            raise ValueError(
                f"{workspace}: must be AGENTID/ALIASID (10 characters each) or an AgentCore runtime ARN"
            )
    return value


def importable(value: str | None) -> str | None:
    """A module name that can be imported (blank is unset)."""
    if value is None or not value.strip():
        return None
    try:
        found = importlib.util.find_spec(value.strip()) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ValueError(f"names no importable module ({value.strip()!r})")
    return value.strip()


def api_url(value: str) -> str:
    if not re.match(r"^https?://", value):
        raise ValueError("must be an http(s) URL such as https://slack.com/api/")
    return value if value.endswith("/") else value + "/"


def redis_url(value: SecretStr | None) -> SecretStr | None:
    if value is None or not value.get_secret_value():
        return None
    if not re.match(r"^(redis|rediss|unix)://", value.get_secret_value()):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return value


def prompts(value: Any) -> tuple[str, ...]:
    # "|" separates prompts: they are sentences, so commas are theirs.
    parts = value.split("|") if isinstance(value, str) else list(value or ())
    prompts = tuple(str(part).strip() for part in parts if str(part).strip())
    if len(prompts) > 4:
        raise ValueError("takes at most 4 prompts (Slack shows no more), separated by |")
    return prompts


def regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"is not a valid regular expression ({exc})") from None
    return value


def log_level(value: str) -> str:
    level = value.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return level


def channels(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    return frozenset(value or ())


def key_prefix(value: str) -> str:
    if "{" in value or "}" in value:
        raise ValueError("must not contain { or } (Redis Cluster hash tags are the bot's)")
    return value


def command(value: str) -> str:
    if not re.match(r"^/[\w-]{1,31}$", value):
        raise ValueError("must look like /order")
    return value


def encryption_keys(value: SecretStr | None) -> SecretStr | None:
    if value is None or not value.get_secret_value().strip():
        return None
    parse_keys(value.get_secret_value())  # raises ValueError saying what is wrong
    return value


# Settings' text variables and the check each one gets.
TEXT_CHECKS: dict[str, Callable[[str], str]] = {
    "slack_api_url": api_url,
    "redis_key_prefix": key_prefix,
    "order_command": command,
    "order_id_pattern": regex,
    "log_level": log_level,
}


def with_mode_problems(exc: ValidationError, data: Any, title: str) -> ValidationError:
    """`exc` plus the mode requirements pydantic did not reach (a bad field stops it first)."""
    errors = exc.errors()
    if not isinstance(data, Mapping) or not all(e.get("loc") for e in errors):
        return exc
    failed = {str(e["loc"][0]) for e in errors}
    problems = [p for p in mode_problems(data) if p.split(":", 1)[0].lower() not in failed]
    if not problems:
        return exc
    extra = ValueError("\n".join(problems))
    details: list[InitErrorDetails] = [
        {"type": e["type"], "loc": e["loc"], "input": e["input"], "ctx": e.get("ctx", {})}
        for e in errors
    ]
    details.append({"type": "value_error", "loc": (), "input": data, "ctx": {"error": extra}})
    return ValidationError.from_exception_data(title, details)


def mode_problems(values: Mapping[str, Any]) -> list[str]:
    """What the chosen mode and backend still need ("VARIABLE: why"), from validated settings
    or raw input alike (pure)."""

    def given(name: str) -> bool:
        value = values.get(name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return bool(str(value).strip()) if value is not None else False

    problems = oauth_problems(given)
    if not given("slack_app_token") and not given("slack_signing_secret"):
        problems.append(
            "SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    backend = str(values.get("agent_backend") or AgentBackend.BEDROCK_AGENTS)
    if backend == AgentBackend.BEDROCK_AGENTS:
        for name in ("bedrock_agent_id", "bedrock_agent_alias_id"):
            if not given(name):
                problems.append(f"{name.upper()}: required when AGENT_BACKEND=bedrock-agents")
    if backend == AgentBackend.AGENTCORE and not given("agentcore_runtime_arn"):
        problems.append("AGENTCORE_RUNTIME_ARN: required when AGENT_BACKEND=agentcore")
    if backend == AgentBackend.HARNESS and not given("agentcore_harness_arn"):
        problems.append("AGENTCORE_HARNESS_ARN: required when AGENT_BACKEND=harness")
    kb = {"DM_KNOWLEDGE_BASE_ID": "dm_knowledge_base_id", "DM_MODEL_ARN": "dm_model_arn"}
    missing = [variable for variable, name in kb.items() if not given(name)]
    if len(missing) == 1:
        other = next(variable for variable in kb if variable not in missing)
        problems.append(f"{missing[0]}: required when {other} is set")
    return problems


def oauth_problems(given: Callable[[str], bool]) -> list[str]:
    """OAuth mode needs both client credentials and a key; without it, SLACK_BOT_TOKEN."""
    client_id, secret = given("slack_client_id"), given("slack_client_secret")
    if client_id and not secret:
        return ["SLACK_CLIENT_SECRET: required when SLACK_CLIENT_ID is set"]
    if secret and not client_id:
        return ["SLACK_CLIENT_ID: required when SLACK_CLIENT_SECRET is set"]
    if client_id and secret:
        if given("installation_encryption_key"):
            return []
        return [
            "INSTALLATION_ENCRYPTION_KEY: required in OAuth mode (SLACK_CLIENT_ID set); "
            "make one with python -m bot installations new-key"
        ]
    # (or SLACK_CLIENT_ID + SLACK_CLIENT_SECRET: OAuth mode, README "many workspaces")
    return [] if given("slack_bot_token") else ["SLACK_BOT_TOKEN is required but not set"]


def describe_validation_error(exc: ValidationError) -> str:
    """Every problem pydantic found, one line per variable."""
    lines: list[str] = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part]
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        if not location:
            lines += [f"configuration error: {line}" for line in message.splitlines() if line]
        elif error.get("type") == "missing":
            lines.append(f"configuration error: {location[0].upper()} is required but not set")
        else:
            lines.append(f"configuration error: {location[0].upper()} {message}")
    return "\n".join(dict.fromkeys(lines))  # each once, in pydantic's order
