"""The only place configuration is read: environment variables and `.env`, validated once."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.events import PriceBook, Prices


class AgentBackend(StrEnum):
    BEDROCK_AGENTS = "bedrock-agents"
    AGENTCORE = "agentcore"


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

    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    agent_backend: AgentBackend = AgentBackend.BEDROCK_AGENTS
    bedrock_agent_id: str | None = None
    bedrock_agent_alias_id: str | None = None
    agentcore_runtime_arn: str | None = None
    agentcore_qualifier: str = "DEFAULT"
    aws_region: str = "us-east-1"

    redis_url: SecretStr | None = None
    redis_key_prefix: str = "sbb:"
    redis_cluster: bool = False
    # Redis calls before the sign of life and the first text give up after this (then the bot
    # answers without memory, as in an outage): a slow Redis must not make the bot slow.
    redis_latency_budget_ms: int = Field(250, ge=1, le=60_000)
    turn_lease_seconds: float = Field(15, ge=1, le=600)
    session_idle_seconds: int = Field(3600, gt=0)
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

    price_input_per_1k: float = Field(0.003, ge=0)  # USD, for cost estimates (Claude Sonnet-like)
    price_output_per_1k: float = Field(0.015, ge=0)
    # JSON: {"claude-3-5-sonnet": [0.003, 0.015], "nova-pro": [0.0008, 0.0032]}; keys are found
    # in the model id the agent's trace reports (foundation model, profile or ARN).
    model_prices: Annotated[dict[str, tuple[float, float]], NoDecode] = Field(default_factory=dict)
    shutdown_grace_seconds: float = Field(25, ge=0, le=3600)
    port: int = Field(3000, ge=0, le=65535)
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.JSON

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
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

    @field_validator("log_level")
    @classmethod
    def _level_known(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="after")
    def _mode_requirements(self) -> Settings:
        if self.slack_app_token is None and self.slack_signing_secret is None:
            raise ValueError(
                "SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
            )
        if self.agent_backend is AgentBackend.BEDROCK_AGENTS:
            for name in ("bedrock_agent_id", "bedrock_agent_alias_id"):
                if not getattr(self, name):
                    raise ValueError(f"{name.upper()}: required when AGENT_BACKEND=bedrock-agents")
        if self.agent_backend is AgentBackend.AGENTCORE and not self.agentcore_runtime_arn:
            raise ValueError("AGENTCORE_RUNTIME_ARN: required when AGENT_BACKEND=agentcore")
        return self

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
    def active_answers_limit(self) -> int:
        return self.max_active_answers or self.agent_max_workers

    @property
    def redis_latency_budget(self) -> float:
        return self.redis_latency_budget_ms / 1000

    @property
    def history_ttl_seconds(self) -> int:
        return self.history_ttl_days * 86_400


class ConfigError(Exception):
    """Configuration is unusable; the message is one line that names the variable."""


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the configuration, turning pydantic's report into one clear line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part]
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if not location:
        return f"configuration error: {message}"
    variable = location[0].upper()
    if first.get("type") == "missing":
        return f"configuration error: {variable} is required but not set"
    return f"configuration error: {variable} {message}"
