"""Typed, frozen settings of the LLM oracle: one block per account.

The API key comes from the secrets file or the environment only; the config
loader puts it into :attr:`OracleConfig.api_key` as a ``SecretStr``, which
prints as ``**********`` in reprs, logs and errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

MISTRAL_BASE_URL = "https://api.mistral.ai/v1"
#: llama-swap's default listen address; any OpenAI-compatible server works.
OPENAI_COMPATIBLE_BASE_URL = "http://127.0.0.1:8080/v1"


@dataclass(frozen=True, slots=True)
class UnavailablePolicy:
    """What new buys do when the oracle cannot give a verdict.

    Attributes:
        kind: ``block`` (no new buys), ``allow`` (buys go ahead unreviewed) or
            ``shrink`` (buys go ahead at ``fraction`` of their size).
        fraction: share of the proposed notional that is allowed (0, 1 or the
            shrink fraction).
    """

    kind: Literal["block", "allow", "shrink"]
    fraction: float

    @classmethod
    def parse(cls, text: str) -> UnavailablePolicy:
        """Parse ``'block'``, ``'allow'`` or ``'shrink:F'`` with ``0 <= F <= 1``.

        Raises:
            ValueError: any other text.
        """
        value = text.strip().lower()
        if value == "block":
            return cls("block", 0.0)
        if value == "allow":
            return cls("allow", 1.0)
        head, _, tail = value.partition(":")
        if head == "shrink" and tail:
            try:
                fraction = float(tail)
            except ValueError:
                fraction = -1.0
            if 0.0 <= fraction <= 1.0:
                return cls("shrink", fraction)
        raise ValueError(
            f"on_unavailable must be 'block', 'allow' or 'shrink:F' (0..1), not {text!r}"
        )


class NewsConfig(BaseModel):
    """Where headlines come from and how many reach the prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    feeds: tuple[str, ...] = ()
    """RSS/Atom feed URLs. A ``{symbol}`` placeholder makes one request per symbol in play."""
    yfinance: bool = False
    """Also read each symbol's news from yfinance (needs the internet; imported lazily)."""
    aliases: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Words that make a headline relevant to a symbol, e.g. ``{"AAPL": ["Apple"]}``."""
    max_per_symbol: int = Field(default=5, ge=0, le=50)
    """Most recent headlines kept per symbol."""
    max_age_days: int = Field(default=7, ge=1, le=365)
    """Headlines older than this (relative to the cycle time) are dropped."""
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    """Timeout of one feed request."""


class OracleConfig(BaseModel):
    """Settings of the LLM oracle for one account."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    provider: Literal["openai", "mistral"] = "openai"
    """``openai``: any OpenAI-compatible server (llama-swap, Ollama, vLLM, LM Studio);
    ``mistral``: the Mistral API. Both speak ``/v1/chat/completions``."""
    base_url: str | None = None
    """API root holding ``/chat/completions``. A bare ``http://host:port`` gets ``/v1``.
    Default: the Mistral API, or llama-swap on ``127.0.0.1:8080``."""
    model: str = Field(default="qwen3-8b", min_length=1)
    """Model asked first."""
    fallback_models: tuple[str, ...] = ()
    """Models tried in order when the previous one times out, errors, is rate
    limited past the retries, or answers something that is not JSON."""
    api_key: SecretStr | None = None
    """Bearer token. Never in the config file: the loader fills it from the environment
    variable named by ``api_key_env`` (the engine loads ``secrets.env`` into it)."""
    api_key_env: str = Field(default="INVEST_LLM_API_KEY", pattern=r"^[A-Z_][A-Z0-9_]*$")
    """Environment variable holding the API key (set it in ``/etc/invest/secrets.env``)."""
    timeout_s: float = Field(default=90.0, gt=0, le=900)
    """Read timeout of one request (llama-swap may need a while to load a model)."""
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120)
    """Connect timeout of one request."""
    max_retries: int = Field(default=2, ge=0, le=10)
    """Retries per model on timeouts, connection errors, 5xx and 429."""
    backoff_s: float = Field(default=1.0, ge=0, le=60)
    """First retry delay; doubles per retry."""
    backoff_max_s: float = Field(default=30.0, ge=0, le=600)
    """Upper bound of any retry delay, including a server's ``Retry-After``."""
    budget_tokens_per_day: int | None = Field(default=None, ge=0)
    """Tokens this account may spend per day; past it the oracle abstains."""
    budget_usd_per_day: float | None = Field(default=None, ge=0)
    """Cost this account may spend per day (needs the two prices below)."""
    usd_per_million_input_tokens: float = Field(default=0.0, ge=0)
    """Price of prompt tokens, for the cost budget."""
    usd_per_million_output_tokens: float = Field(default=0.0, ge=0)
    """Price of completion tokens, for the cost budget."""
    mode: Literal["gate", "manager"] = "gate"
    """``gate``: review proposed buys (veto/shrink only). ``manager``: two-pass analysis
    and trade decisions, still clamped by the risk engine."""
    on_unavailable: str = "block"
    """New buys when the oracle cannot answer: ``block``, ``allow`` or ``shrink:0.5``."""
    response_format_json: bool = False
    """Send ``response_format: {"type": "json_object"}`` (only where the server supports it)."""
    temperature: float = Field(default=0.0, ge=0, le=2)
    """Sampling temperature of a single answer."""
    max_tokens: int | None = Field(default=2048, ge=16)
    """Completion token limit per request."""
    seed: int | None = None
    """Sampling seed, for servers that honour one."""
    self_consistency_k: int = Field(default=1, ge=1, le=9)
    """Samples per question; above 1 the verdicts are decided by majority vote."""
    sample_temperature: float = Field(default=0.7, ge=0, le=2)
    """Temperature of each sample when ``self_consistency_k > 1``."""
    repair: bool = True
    """Ask once more, quoting the problems, when an answer cannot be used."""
    anonymise: bool = True
    """Relative day labels, prices rebased to 100 and years masked in prompts."""
    price_days: int = Field(default=20, ge=2, le=250)
    """Closes per symbol shown in prompts."""
    max_headlines: int = Field(default=30, ge=0, le=200)
    """Headlines per prompt, across all symbols."""
    knowledge_cutoff: date | None = None
    """Last date the model was trained on; backtests before it are flagged."""
    news: NewsConfig = Field(default_factory=NewsConfig)
    """News sources and filters."""

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http(s) URL, not {value!r}")
        path = parts.path.rstrip("/") or "/v1"
        return f"{parts.scheme}://{parts.netloc}{path}"

    @field_validator("on_unavailable")
    @classmethod
    def _check_policy(cls, value: str) -> str:
        UnavailablePolicy.parse(value)
        return value.strip().lower()

    @model_validator(mode="after")
    def _check_cross_fields(self) -> OracleConfig:
        if self.provider == "mistral" and self.api_key is None:
            raise ValueError(
                f"provider 'mistral' needs an API key: set {self.api_key_env} in the "
                "secrets file or the environment"
            )
        priced = self.usd_per_million_input_tokens or self.usd_per_million_output_tokens
        if self.budget_usd_per_day is not None and not priced:
            raise ValueError("budget_usd_per_day needs usd_per_million_*_tokens prices")
        if self.model in self.fallback_models:
            raise ValueError(f"fallback_models repeats the main model {self.model!r}")
        return self

    @property
    def api_base(self) -> str:
        """The API root used for requests."""
        if self.base_url is not None:
            return self.base_url
        return MISTRAL_BASE_URL if self.provider == "mistral" else OPENAI_COMPATIBLE_BASE_URL

    @property
    def models(self) -> tuple[str, ...]:
        """The fallback chain: main model first."""
        return (self.model, *self.fallback_models)

    @property
    def policy(self) -> UnavailablePolicy:
        """``on_unavailable`` parsed."""
        return UnavailablePolicy.parse(self.on_unavailable)
