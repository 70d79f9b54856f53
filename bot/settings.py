"""The only place configuration is read: environment variables and `.env`, validated once."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.events import PriceBook, Prices
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


class Settings(BaseSettings):
    """Every variable of SPEC's configuration table, with its default and its bounds."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    slack_bot_token: SecretStr | None = None  # required unless OAuth mode (see below)
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    # OAuth mode (many workspaces): both set → installs at /slack/install, tokens in Redis.
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_redirect_uri: str | None = None
    installation_encryption_key: SecretStr | None = None  # Fernet keys, comma-separated
    # app_uninstalled / tokens_revoked also delete that workspace's conversations (history).
    delete_conversations_on_uninstall: bool = False
    # JSON: {"T0123": "AGENTID/ALIASID", "E0456": "arn:aws:bedrock-agentcore:…:runtime/…"}
    workspace_agents: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    agent_backend: AgentBackend = AgentBackend.BEDROCK_AGENTS
    bedrock_agent_id: str | None = None
    bedrock_agent_alias_id: str | None = None
    agentcore_runtime_arn: str | None = None
    agentcore_qualifier: str = "DEFAULT"
    agentcore_harness_arn: str | None = None
    agentcore_harness_qualifier: str | None = None  # unset → the harness's default endpoint
    # Both set → DMs are answered by RetrieveAndGenerateStream on this Knowledge Base.
    dm_knowledge_base_id: str | None = None
    dm_model_arn: str | None = None
    aws_region: str = "us-east-1"

    redis_url: SecretStr | None = None
    redis_key_prefix: str = "sbb:"
    redis_cluster: bool = False
    # Redis calls before the sign of life and the first text give up after this (then the bot
    # answers without memory, as in an outage): a slow Redis must not make the bot slow.
    redis_latency_budget_ms: int = Field(250, ge=1, le=60_000)
    turn_lease_seconds: float = Field(15, ge=1, le=600)
    session_idle_seconds: int = Field(3600, gt=0)  # unset → DEFAULT_IDLE_SECONDS per backend
    history_max_turns: int = Field(20, ge=0, le=500)
    history_ttl_days: int = Field(30, gt=0)
    history_replay: HistoryReplay = HistoryReplay.CONVERSATION_HISTORY

    agent_idle_timeout_seconds: float = Field(90, gt=0)
    agent_max_workers: int = Field(256, ge=1, le=2048)
    # Answers this replica works on at once (unset: AGENT_MAX_WORKERS); beyond it a question
    # waits with its sign of life shown, and its agent's idle timeout has not started yet.
    max_active_answers: int | None = Field(None, ge=1, le=10_000)
    agent_retry_attempts: int = Field(3, ge=1, le=10)
    agent_retry_base_seconds: float = Field(0.5, ge=0, le=30)
    slack_streaming: StreamingMode = StreamingMode.AUTO
    stream_update_interval_ms: int = Field(800, ge=0, le=60_000)
    show_progress: bool = True  # agent steps as task updates (native) or a status line (update)
    max_input_chars: int = Field(20_000, ge=100)

    allowed_channels: Annotated[frozenset[str], NoDecode] = frozenset()
    suggested_prompts: Annotated[tuple[str, ...], NoDecode] = (
        "What is our vacation policy?",
        "How do I submit an expense report?",
        "Where is the onboarding checklist?",
    )
    suggested_prompts_title: str = "Ask me about the handbook"
    order_command: str = "/order"
    order_id_pattern: str = r"^[A-Za-z]{2,5}-?[0-9]{3,12}$"
    # Agents that act (bot/actions): how long Confirm / Cancel stays answerable (unset: as long
    # as the agent's session lives), and the module whose register_actions() adds RESULT handlers.
    confirm_timeout_seconds: int | None = Field(None, gt=0)
    action_handlers_module: str | None = None

    price_input_per_1k: float = Field(0.003, ge=0)  # USD, for cost estimates (Claude Sonnet-like)
    price_output_per_1k: float = Field(0.015, ge=0)
    # JSON: {"claude-3-5-sonnet": [0.003, 0.015], "nova-pro": [0.0008, 0.0032]}; keys are found
    # in the model id the agent's trace reports (foundation model, profile or ARN).
    model_prices: Annotated[dict[str, tuple[float, float]], NoDecode] = Field(default_factory=dict)
    shutdown_grace_seconds: float = Field(25, ge=0, le=3600)
    port: int = Field(3000, ge=0, le=65535)
    # `python -m bot playground` listens here; loopback only unless told otherwise.
    playground_host: str = "127.0.0.1"
    # Hostile input and flaky dependencies (issue 12): how long a client may take to send a
    # request, how many may be slow at once, how long a final Slack write may keep retrying.
    http_read_timeout_seconds: float = Field(5, gt=0, le=300)
    http_max_slow_connections: int = Field(256, ge=1, le=100_000)
    final_write_deadline_seconds: float = Field(120, gt=0, le=3600)
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.JSON

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_client_id", "slack_redirect_uri")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("slack_client_secret")
    @classmethod
    def _blank_client_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("installation_encryption_key")
    @classmethod
    def _encryption_keys_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parse_keys(value.get_secret_value())  # raises ValueError saying what is wrong
        return value

    @field_validator("slack_signing_secret")
    @classmethod
    def _blank_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # `SLACK_SIGNING_SECRET=` in a .env means "not set", not an empty secret.
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_shape(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("redis_url")
    @classmethod
    def _redis_url_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not re.match(r"^(redis|rediss|unix)://", value.get_secret_value()):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("redis_key_prefix")
    @classmethod
    def _prefix_has_no_hash_tag(cls, value: str) -> str:
        if "{" in value or "}" in value:
            raise ValueError("must not contain { or } (Redis Cluster hash tags are the bot's)")
        return value

    @field_validator("allowed_channels", mode="before")
    @classmethod
    def _split_channels(cls, value: Any) -> frozenset[str]:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return frozenset(value or ())

    @field_validator("model_prices", mode="before")
    @classmethod
    def _parse_model_prices(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f'must be JSON like {{"model": [0.003, 0.015]}} ({exc.msg})'
                ) from None
        return value

    @field_validator("workspace_agents", mode="before")
    @classmethod
    def _parse_workspace_agents(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f'must be JSON like {{"T0123": "AGENTID/ALIASID"}} ({exc.msg})'
                ) from None
        if not isinstance(value, dict):
            raise ValueError('must be a JSON object like {"T0123": "AGENTID/ALIASID"}')
        for workspace, agent in value.items():
            if not isinstance(agent, str) or not re.match(
                r"^(arn:aws[\w-]*:bedrock-agentcore:.+:runtime/.+|[0-9A-Za-z]{10}/[0-9A-Za-z]{10})$",
                agent,
            ):
                raise ValueError(
                    f"{workspace}: must be AGENTID/ALIASID (10 characters each) or an AgentCore runtime ARN"
                )
        return value

    @field_validator("suggested_prompts", mode="before")
    @classmethod
    def _split_prompts(cls, value: Any) -> tuple[str, ...]:
        # "|" separates prompts: they are sentences, so commas are theirs.
        parts = value.split("|") if isinstance(value, str) else list(value or ())
        prompts = tuple(str(part).strip() for part in parts if str(part).strip())
        if len(prompts) > 4:
            raise ValueError("takes at most 4 prompts (Slack shows no more), separated by |")
        return prompts

    @field_validator("order_command")
    @classmethod
    def _command_shape(cls, value: str) -> str:
        if not re.match(r"^/[\w-]{1,31}$", value):
            raise ValueError("must look like /order")
        return value

    @field_validator("order_id_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"is not a valid regular expression ({exc})") from None
        return value

    @field_validator("action_handlers_module")
    @classmethod
    def _handlers_module_exists(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            found = importlib.util.find_spec(value.strip()) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise ValueError(f"names no importable module ({value.strip()!r})")
        return value.strip()

    @field_validator("log_level")
    @classmethod
    def _level_known(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="after")
    def _mode_requirements(self) -> Settings:
        problems = mode_problems(self.__dict__)
        if problems:
            raise ValueError("\n".join(problems))  # one line per variable
        if "session_idle_seconds" not in self.model_fields_set:
            self.session_idle_seconds = DEFAULT_IDLE_SECONDS[self.agent_backend]
        return self

    @property
    def oauth_mode(self) -> bool:
        """Many workspaces: installs through OAuth, tokens from the installation store."""
        return bool(self.slack_client_id) and self.slack_client_secret is not None

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem_at_once(
        cls, data: Any, handler: ModelWrapValidatorHandler[Settings]
    ) -> Settings:
        """A bad field stops pydantic before the mode requirements run: report those too, so
        one run names every variable to fix (not one per run)."""
        try:
            return handler(data)
        except ValidationError as exc:
            errors = exc.errors()
            if not isinstance(data, Mapping) or not all(e.get("loc") for e in errors):
                raise
            failed = {str(e["loc"][0]) for e in errors}
            problems = [p for p in mode_problems(data) if p.split(":", 1)[0].lower() not in failed]
            if not problems:
                raise
            extra = ValueError("\n".join(problems))
            details: list[InitErrorDetails] = [
                {"type": e["type"], "loc": e["loc"], "input": e["input"], "ctx": e.get("ctx", {})}
                for e in errors
            ]
            details.append(
                {"type": "value_error", "loc": (), "input": data, "ctx": {"error": extra}}
            )
            raise ValidationError.from_exception_data(cls.__name__, details) from None

    @property
    def knowledge_base_dms(self) -> bool:
        """DMs go to the Knowledge Base (RetrieveAndGenerateStream), not to the agent."""
        return bool(self.dm_knowledge_base_id and self.dm_model_arn)

    @property
    def http_mode(self) -> bool:
        return self.slack_app_token is None

    @property
    def stream_interval(self) -> float:
        return self.stream_update_interval_ms / 1000

    @property
    def prices(self) -> Prices:
        return Prices(self.price_input_per_1k, self.price_output_per_1k)

    @property
    def price_book(self) -> PriceBook:
        models = tuple((key, Prices(*pair)) for key, pair in self.model_prices.items())
        return PriceBook(self.prices, models)

    @property
    def order_id_regex(self) -> re.Pattern[str]:
        return re.compile(self.order_id_pattern)

    def channel_allowed(self, channel_id: str) -> bool:
        """DMs are always allowed; channels only when ALLOWED_CHANNELS is unset or lists them."""
        return not self.allowed_channels or channel_id in self.allowed_channels

    @property
    def confirm_timeout(self) -> int:
        """CONFIRM_TIMEOUT_SECONDS, defaulting to SESSION_IDLE_SECONDS (Bedrock forgets then)."""
        return self.confirm_timeout_seconds or self.session_idle_seconds

    @property
    def active_answers_limit(self) -> int:
        return self.max_active_answers or self.agent_max_workers

    @property
    def redis_latency_budget(self) -> float:
        return self.redis_latency_budget_ms / 1000

    @property
    def history_ttl_seconds(self) -> int:
        return self.history_ttl_days * 86_400


class _SlackPresence(BaseSettings):
    """Only whether Slack is configured at all: `python -m bot` starts the playground if not."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    slack_bot_token: str = ""
    slack_app_token: str = ""
    slack_client_id: str = ""
    slack_client_secret: str = ""


def slack_configured() -> bool:
    """True when a Slack token or an OAuth client (id and secret) is set, in the env or .env."""
    found = _SlackPresence()
    oauth = bool(found.slack_client_id.strip() and found.slack_client_secret.strip())
    return bool(found.slack_bot_token.strip() or found.slack_app_token.strip() or oauth)


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


class ConfigError(Exception):
    """Configuration is unusable; the message is one line that names the variable."""


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the configuration, turning pydantic's report into one clear line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


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
