"""The only place configuration is read: environment variables and `.env`, validated once."""

from __future__ import annotations

import importlib.util
import json
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.events import PriceBook, Prices
from bot.installations.crypto import parse_keys


class AgentBackend(StrEnum):
    BEDROCK_AGENTS = "bedrock-agents"
    AGENTCORE = "agentcore"
    HARNESS = "harness"


# AgentCore Runtime (and so a harness) ends a session after 15 idle minutes unless configured
# otherwise; Bedrock Agents' idleSessionTTLInSeconds is commonly an hour.
DEFAULT_IDLE_SECONDS = {
    AgentBackend.BEDROCK_AGENTS: 3600,
    AgentBackend.AGENTCORE: 900,
    AgentBackend.HARNESS: 900,
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
    session_idle_seconds: int = Field(3600, gt=0)  # unset → DEFAULT_IDLE_SECONDS per backend
    history_max_turns: int = Field(20, ge=0, le=500)
    history_ttl_days: int = Field(30, gt=0)
    history_replay: HistoryReplay = HistoryReplay.CONVERSATION_HISTORY

    agent_idle_timeout_seconds: float = Field(90, gt=0)
    agent_max_workers: int = Field(256, ge=1, le=2048)
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
        self._oauth_requirements()
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
        if self.agent_backend is AgentBackend.HARNESS and not self.agentcore_harness_arn:
            raise ValueError("AGENTCORE_HARNESS_ARN: required when AGENT_BACKEND=harness")
        kb = {"DM_KNOWLEDGE_BASE_ID": self.dm_knowledge_base_id, "DM_MODEL_ARN": self.dm_model_arn}
        missing = [name for name, value in kb.items() if not value]
        if len(missing) == 1:
            other = next(name for name in kb if name not in missing)
            raise ValueError(f"{missing[0]}: required when {other} is set")
        if "session_idle_seconds" not in self.model_fields_set:
            self.session_idle_seconds = DEFAULT_IDLE_SECONDS[self.agent_backend]
        return self

    def _oauth_requirements(self) -> None:
        if self.slack_client_id and self.slack_client_secret is None:
            raise ValueError("SLACK_CLIENT_SECRET: required when SLACK_CLIENT_ID is set")
        if self.slack_client_secret is not None and not self.slack_client_id:
            raise ValueError("SLACK_CLIENT_ID: required when SLACK_CLIENT_SECRET is set")
        if self.oauth_mode:
            if self.installation_encryption_key is None:
                raise ValueError(
                    "INSTALLATION_ENCRYPTION_KEY: required in OAuth mode (SLACK_CLIENT_ID set); "
                    "make one with python -m bot installations new-key"
                )
        elif self.slack_bot_token is None:
            # (or SLACK_CLIENT_ID + SLACK_CLIENT_SECRET: OAuth mode, README "many workspaces")
            raise ValueError("SLACK_BOT_TOKEN is required but not set")

    @property
    def oauth_mode(self) -> bool:
        """Many workspaces: installs through OAuth, tokens from the installation store."""
        return bool(self.slack_client_id) and self.slack_client_secret is not None

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
