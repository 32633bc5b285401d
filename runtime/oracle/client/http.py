"""HttpLLMClient: ``/v1/chat/completions`` over httpx, for OpenAI-compatible servers and Mistral.

One request shape serves llama-swap, Ollama, vLLM, LM Studio and the Mistral
API. Failures are translated here into the oracle's errors. The API key lives
only in the httpx client's default headers: it is never logged, audited or put
into an exception message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from invest.runtime.config.oracle import OracleConfig
from invest.runtime.oracle.client.protocol import ChatRequest, ChatResponse, Health, Usage
from invest.runtime.oracle.errors import LLMAuthError, LLMUnavailableError
from invest.runtime.oracle.extract import extract_json

logger = logging.getLogger(__name__)


class _RetryableError(Exception):
    """Timeout, connection error, 5xx, 429 or an unreadable body: try again."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class _ModelFailedError(Exception):
    """This model cannot answer (retries spent, or a 4xx): try the next one."""


class HttpLLMClient:
    """Talk to one server through its fallback chain of models.

    Args:
        config: the account's oracle settings.
        transport: an httpx transport (tests pass ``httpx.MockTransport``).
        sleep: how to wait between retries (tests pass a recorder).
        now: the clock, for ``Retry-After`` given as an HTTP date.
    """

    def __init__(
        self,
        config: OracleConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.model = config.model
        self._sleep = sleep
        self._now = now
        headers = {"Accept": "application/json"}
        if config.api_key is not None:
            headers["Authorization"] = f"Bearer {config.api_key.get_secret_value()}"
        timeout = httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s)
        self._http = httpx.Client(
            base_url=config.api_base, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> HttpLLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Ask each model of the chain in turn until one gives a usable answer.

        An answer without JSON (when ``expect_json``) moves on to the next model;
        if every model answers that way, the last answer is returned so the
        parser can report on it.

        Raises:
            LLMAuthError: the key was refused.
            LLMUnavailableError: no model answered at all.
        """
        failures: list[str] = []
        usage = Usage()
        attempts = 0
        last: ChatResponse | None = None
        for model in self.config.models:
            try:
                resp = self._ask_model(model, request)
            except _ModelFailedError as e:
                failures.append(f"{model}: {e}")
                logger.warning("llm model %s failed: %s", model, e)
                continue
            usage += resp.usage
            attempts += resp.attempts
            last = replace(resp, usage=usage, attempts=attempts, notes=tuple(failures))
            if request.expect_json and extract_json(resp.content) is None:
                failures.append(f"{model}: answer holds no JSON")
                logger.warning("llm model %s answered without JSON", model)
                continue
            return last
        if last is not None:
            return replace(last, notes=tuple(failures))
        raise LLMUnavailableError("no model answered: " + "; ".join(failures))

    def health(self) -> Health:
        """List the server's models through ``GET /models``; never raises."""
        try:
            resp = self._http.get("/models")
        except httpx.HTTPError as e:
            return Health(ok=False, detail=f"unreachable: {type(e).__name__}")
        if resp.status_code in (401, 403):
            return Health(ok=False, detail=f"API key refused ({resp.status_code})")
        try:
            data = resp.json()["data"]
            served = tuple(str(m["id"]) for m in data)
        except (ValueError, KeyError, TypeError):
            return Health(ok=False, detail=f"unexpected /models answer ({resp.status_code})")
        missing = tuple(m for m in self.config.models if m not in served)
        ok = resp.is_success and len(missing) < len(self.config.models)
        detail = "ok" if not missing else f"not served: {', '.join(missing)}"
        return Health(ok=ok, models=served, missing=missing, detail=detail)

    def _ask_model(self, model: str, request: ChatRequest) -> ChatResponse:
        payload = self._payload(model, request)
        tries = self.config.max_retries + 1
        for attempt in range(tries):
            try:
                resp = self._post(model, payload)
            except _RetryableError as e:
                if attempt + 1 == tries:
                    raise _ModelFailedError(f"{e} (after {tries} attempts)") from None
                delay = self._delay(attempt, e.retry_after)
                logger.warning("llm model %s: %s; retry in %.1fs", model, e, delay)
                self._sleep(delay)
            else:
                return replace(resp, attempts=attempt + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    def _post(self, model: str, payload: dict[str, Any]) -> ChatResponse:
        started = time.monotonic()
        try:
            resp = self._http.post("/chat/completions", json=payload)
        except httpx.TimeoutException:
            raise _RetryableError("timeout") from None
        except httpx.RequestError as e:
            raise _RetryableError(f"connection error ({type(e).__name__})") from None
        latency = time.monotonic() - started
        status = resp.status_code
        if status in (401, 403):
            raise LLMAuthError(f"the server refused the API key ({status}); check the secrets file")
        if status == 429 or status >= 500:
            raise _RetryableError(f"HTTP {status}", _retry_after(resp, self._now))
        if not resp.is_success:
            raise _ModelFailedError(f"HTTP {status}: {self._redact(resp.text[:200])}")
        answer = _read_answer(resp, model, latency)
        logger.info(
            "llm model=%s tokens=%d latency=%.2fs",
            answer.model,
            answer.usage.total_tokens,
            latency,
        )
        return answer

    def _payload(self, model: str, request: ChatRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": model,
            "messages": [dict(m) for m in request.messages],
            "temperature": request.temperature,
            "stream": False,
        }
        if request.max_tokens is not None:
            payload["max_tokens"] = request.max_tokens
        if request.seed is not None:
            seed_key = "random_seed" if self.config.provider == "mistral" else "seed"
            payload[seed_key] = request.seed
        if request.json_mode:
            payload["response_format"] = {"type": "json_object"}
        return payload

    def _redact(self, text: str) -> str:
        """Remove the key from server text we log (a proxy might echo our headers)."""
        key = self.config.api_key.get_secret_value() if self.config.api_key else ""
        return text.replace(key, "**********") if key else text

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        wanted = retry_after if retry_after is not None else self.config.backoff_s * 2**attempt
        return max(0.0, min(wanted, self.config.backoff_max_s))


def probe_endpoint(config: OracleConfig) -> Health:
    """One ``GET /models`` of ``config``'s server with a client of its own; never raises."""
    client = HttpLLMClient(config)
    try:
        return client.health()
    finally:
        client.close()


def _read_answer(resp: httpx.Response, model: str, latency: float) -> ChatResponse:
    try:
        data = resp.json()
        choice = data["choices"][0]
        content = _content_text(choice["message"].get("content"))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise _RetryableError("unreadable response body") from None
    raw_usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    usage = Usage(_int(raw_usage.get("prompt_tokens")), _int(raw_usage.get("completion_tokens")))
    return ChatResponse(
        content=content,
        model=str(data.get("model") or model),
        usage=usage,
        latency_s=latency,
        truncated=choice.get("finish_reason") == "length",
    )


def _content_text(content: Any) -> str:
    """Message content as text; Mistral may send a list of typed chunks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") == "text"
        ]
        return "".join(str(p) for p in parts)
    raise TypeError("content is neither text nor chunks")


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _retry_after(resp: httpx.Response, now: Callable[[], datetime] | None) -> float | None:
    """Seconds asked for by ``Retry-After`` (delta seconds or an HTTP date), if any."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    if now is None:
        return None
    try:
        return max(0.0, (parsedate_to_datetime(value) - now()).total_seconds())
    except (TypeError, ValueError):  # unparsable, or a date without a time zone
        return None


@dataclass(frozen=True, slots=True)
class ModelProbe:
    """What one chat completion per model told ``invest llm check``.

    Attributes:
        model: the model asked (main model or a fallback).
        ok: the chat endpoint answered a one-token completion.
        latency_s: seconds of that completion (0 when it failed).
        json_mode: ``response_format: json_object`` was accepted and the answer parsed.
        detail: one line for humans.
    """

    model: str
    ok: bool
    latency_s: float
    json_mode: bool
    detail: str


_PING = ChatRequest(messages=({"role": "user", "content": "Say OK."},), max_tokens=1)
_JSON_PING = ChatRequest(
    messages=({"role": "user", "content": 'Answer with the JSON object {"ok": true}.'},),
    max_tokens=20,
    json_mode=True,
)


def probe_chat(config: OracleConfig) -> list[ModelProbe]:
    """One real chat completion per model of the fallback chain; never raises.

    ``GET /models`` can answer while every completion fails (a proxy whose backend is
    down answers 500), so the check that says OK must ask what the oracle asks: a
    completion (one token, no retries), then one in JSON mode.
    """
    client = HttpLLMClient(config)
    try:
        return [_probe_model(client, model) for model in config.models]
    finally:
        client.close()


def _probe_model(client: HttpLLMClient, model: str) -> ModelProbe:
    try:
        answer = client._post(model, client._payload(model, _PING))
    except (_RetryableError, _ModelFailedError, LLMAuthError) as e:
        return ModelProbe(model, False, 0.0, False, f"chat completion failed: {e}")
    try:
        parsed = extract_json(client._post(model, client._payload(model, _JSON_PING)).content)
        json_ok = isinstance(parsed, dict)
    except (_RetryableError, _ModelFailedError, LLMAuthError, ValueError):
        json_ok = False
    detail = f"{answer.model} answered in {answer.latency_s:.2f}s, JSON mode {'yes' if json_ok else 'no'}"
    return ModelProbe(model, True, answer.latency_s, json_ok, detail)
