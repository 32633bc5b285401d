"""`invest llm check` asks each model for a real completion (issue 11, finding 10).

It used to probe only ``/v1/models`` and said OK for a server whose chat endpoint
always answered 500.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from invest.runtime.cli import main
from tests.packaging.support import models_server


def _config(tmp_path: Path, url: str, fallback: str = "") -> Path:
    path = tmp_path / "config.toml"
    fallbacks = f'fallback_models = ["{fallback}"]\n' if fallback else ""
    path.write_text(
        '[accounts.a]\nuniverse = ["AAPL"]\n[accounts.a.oracle]\n'
        f'base_url = "{url}"\nmodel = "qwen3-8b"\n{fallbacks}'
    )
    return path


def _check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(["--config", str(path), "llm", "check"])
    return rc, " ".join(capsys.readouterr().out.split())


def test_a_server_whose_chat_endpoint_answers_500_is_a_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with models_server(["qwen3-8b"], chat_status=500) as url:
        rc, out = _check(_config(tmp_path, url), capsys)
    assert rc == 1
    assert "a: openai" in out
    assert ": FAIL (" in out
    assert "qwen3-8b: FAIL (chat completion failed: HTTP 500)" in out


def test_each_model_of_the_chain_reports_latency_and_json_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with models_server(["qwen3-8b", "llama3"]) as url:
        rc, out = _check(_config(tmp_path, url, fallback="llama3"), capsys)
    assert rc == 0, out
    for model in ("qwen3-8b", "llama3"):
        assert f"{model}: OK ({model} answered in " in out
    assert out.count("JSON mode yes") == 2


def test_a_server_without_json_mode_still_answers_but_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with models_server(["qwen3-8b"], json_mode=False) as url:
        rc, out = _check(_config(tmp_path, url), capsys)
    assert rc == 0, out
    assert "qwen3-8b: OK" in out
    assert "JSON mode no" in out
