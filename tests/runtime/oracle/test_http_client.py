"""HttpLLMClient against a local OpenAI-compatible server: retries, fallbacks, health, secrecy."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from invest.runtime.oracle import (
    ChatRequest,
    HttpLLMClient,
    LLMAuthError,
    LLMUnavailableError,
    OracleConfig,
)
from tests.runtime.oracle.support import SECRET, FakeLLMServer, Reply, completion, make_config

GOOD = '{"verdicts": []}'
REQUEST = ChatRequest(messages=({"role": "user", "content": "hi"},))


@pytest.fixture
def client_for(sleeps: list[float]) -> Iterator[type[HttpLLMClient]]:
    made: list[HttpLLMClient] = []

    def build(config: OracleConfig) -> HttpLLMClient:
        client = HttpLLMClient(config, sleep=sleeps.append)
        made.append(client)
        return client

    yield build  # type: ignore[misc]
    for client in made:
        client.close()


def _models(server: FakeLLMServer) -> list[str]:
    return [r.body["model"] for r in server.chat_requests if r.body]


def test_a_good_answer_returns_content_model_and_usage(llm_server, client_for) -> None:
    llm_server.answer(GOOD)
    response = client_for(make_config(llm_server)).complete(REQUEST)
    assert response.content == GOOD
    assert response.model == "main"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (100, 20)
    assert response.attempts == 1
    assert not response.cached


def test_the_request_carries_model_messages_params_and_the_bearer_key(
    llm_server, client_for
) -> None:
    llm_server.answer(GOOD)
    config = make_config(llm_server, response_format_json=True, seed=7)
    client_for(config).complete(ChatRequest(REQUEST.messages, seed=7, json_mode=True))
    sent = llm_server.chat_requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {SECRET}"
    assert sent.body is not None
    assert sent.body["model"] == "main"
    assert sent.body["messages"] == [{"role": "user", "content": "hi"}]
    assert sent.body["response_format"] == {"type": "json_object"}
    assert sent.body["seed"] == 7


def test_no_response_format_is_sent_unless_asked(llm_server, client_for) -> None:
    llm_server.answer(GOOD)
    client_for(make_config(llm_server)).complete(REQUEST)
    assert "response_format" not in (llm_server.chat_requests[0].body or {})


def test_mistral_gets_random_seed_instead_of_seed(llm_server, client_for) -> None:
    llm_server.answer(GOOD)
    config = make_config(llm_server, provider="mistral")
    client_for(config).complete(ChatRequest(REQUEST.messages, seed=3))
    body = llm_server.chat_requests[0].body or {}
    assert body["random_seed"] == 3
    assert "seed" not in body


def test_mistral_content_chunks_are_joined_as_text(llm_server, client_for) -> None:
    reply = completion("")
    reply.body["choices"][0]["message"]["content"] = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
        {"type": "text", "text": GOOD},
    ]
    llm_server.queue(reply)
    assert client_for(make_config(llm_server)).complete(REQUEST).content == GOOD


def test_429_then_success_waits_as_long_as_retry_after_says(llm_server, client_for, sleeps) -> None:
    llm_server.queue(Reply(429, {"error": "slow down"}, headers={"Retry-After": "3"}))
    llm_server.answer(GOOD)
    response = client_for(make_config(llm_server)).complete(REQUEST)
    assert response.content == GOOD
    assert response.model == "main"
    assert response.attempts == 2
    assert sleeps == [3.0]


def test_retry_after_is_bounded_by_backoff_max(llm_server, client_for, sleeps) -> None:
    llm_server.queue(Reply(429, {}, headers={"Retry-After": "3600"}))
    llm_server.answer(GOOD)
    client_for(make_config(llm_server, backoff_max_s=5.0)).complete(REQUEST)
    assert sleeps == [5.0]


def test_500s_use_up_the_retries_then_the_fallback_model_answers(
    llm_server, client_for, sleeps
) -> None:
    llm_server.queue(Reply(500, {}), Reply(503, {}), completion(GOOD, model="backup"))
    response = client_for(make_config(llm_server)).complete(REQUEST)
    assert response.model == "backup"
    assert _models(llm_server) == ["main", "main", "backup"]
    assert sleeps == [0.5]  # exponential backoff from backoff_s
    assert any("main" in note and "HTTP 503" in note for note in response.notes)


def test_a_slow_answer_times_out_and_the_fallback_answers(llm_server, client_for) -> None:
    llm_server.queue(
        Reply(delay_s=0.6, body=completion(GOOD).body), completion(GOOD, model="backup")
    )
    config = make_config(llm_server, timeout_s=0.2, max_retries=0)
    response = client_for(config).complete(REQUEST)
    # The first model's answer came too late (a timeout, not its body); no wall-clock budget.
    assert response.model == "backup"
    assert "timeout" in response.notes[0]


def test_an_answer_without_json_moves_on_to_the_next_model(llm_server, client_for) -> None:
    llm_server.queue(completion("I think you should buy."), completion(GOOD, model="backup"))
    response = client_for(make_config(llm_server)).complete(REQUEST)
    assert response.model == "backup"
    assert response.usage.total_tokens == 240  # both answers cost tokens


def test_when_every_model_answers_without_json_the_last_answer_comes_back(
    llm_server, client_for
) -> None:
    llm_server.queue(completion("no"), completion("still no", model="backup"))
    response = client_for(make_config(llm_server)).complete(REQUEST)
    assert response.content == "still no"
    assert len(response.notes) == 2


def test_an_unreadable_body_is_retried(llm_server, client_for) -> None:
    llm_server.queue(Reply(200, "<html>proxy error</html>"))
    llm_server.answer(GOOD)
    assert client_for(make_config(llm_server)).complete(REQUEST).content == GOOD


def test_when_no_model_answers_the_client_raises_unavailable(llm_server, client_for) -> None:
    llm_server.queue(*[Reply(500, {}) for _ in range(4)])
    with pytest.raises(LLMUnavailableError, match="no model answered"):
        client_for(make_config(llm_server)).complete(REQUEST)
    assert _models(llm_server) == ["main", "main", "backup", "backup"]


def test_a_refused_key_stops_at_once_without_fallbacks(llm_server, client_for) -> None:
    llm_server.queue(Reply(401, {"error": "bad key"}))
    with pytest.raises(LLMAuthError, match="secrets"):
        client_for(make_config(llm_server)).complete(REQUEST)
    assert len(llm_server.chat_requests) == 1


def test_an_unknown_model_is_skipped_for_the_next_one(llm_server, client_for, sleeps) -> None:
    llm_server.queue(Reply(404, {"error": "model not found"}), completion(GOOD, model="backup"))
    response = client_for(make_config(llm_server)).complete(REQUEST)
    assert response.model == "backup"
    assert sleeps == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_server_that_is_down_is_unavailable(client_for) -> None:
    config = OracleConfig(base_url=f"http://127.0.0.1:{_closed_port()}/v1", max_retries=1)
    with pytest.raises(LLMUnavailableError, match="connection error"):
        client_for(config).complete(REQUEST)


def test_health_lists_served_and_missing_models(llm_server, client_for) -> None:
    llm_server.models = ["main", "other"]
    health = client_for(make_config(llm_server)).health()
    assert health.ok
    assert health.models == ("main", "other")
    assert health.missing == ("backup",)


def test_health_of_a_server_without_our_models_is_not_ok(llm_server, client_for) -> None:
    llm_server.models = ["other"]
    assert not client_for(make_config(llm_server)).health().ok


def test_health_of_a_server_that_is_down_is_not_ok_and_does_not_raise(client_for) -> None:
    config = OracleConfig(base_url=f"http://127.0.0.1:{_closed_port()}/v1")
    health = client_for(config).health()
    assert not health.ok
    assert "unreachable" in health.detail


def test_the_api_key_never_appears_in_logs_or_errors(llm_server, client_for, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_for(make_config(llm_server, timeout_s=0.2, max_retries=1))
    llm_server.queue(
        Reply(429, {}, headers={"Retry-After": "1"}),
        completion("not json"),
        Reply(500, {"error": "boom"}),
        Reply(delay_s=0.4, body={}),
    )
    client.complete(REQUEST)
    llm_server.queue(
        Reply(404, {"error": f"no model; you sent Bearer {SECRET}"}),
        Reply(401, {"error": "bad key"}),
    )
    with pytest.raises(LLMAuthError) as refused:
        client.complete(REQUEST)
    client.health()
    assert SECRET not in str(refused.value)
    assert caplog.records, "the client should log what it does"
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in repr(record.args)
    assert SECRET not in caplog.text
