"""OracleConfig: typed, frozen, unknown keys rejected, secrets hidden."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from invest.runtime.config.oracle import MISTRAL_BASE_URL
from invest.runtime.oracle import OracleConfig, UnavailablePolicy


def test_defaults_are_a_fail_closed_gate_on_a_local_server() -> None:
    config = OracleConfig()
    assert config.mode == "gate"
    assert config.policy == UnavailablePolicy("block", 0.0)
    assert config.api_base == "http://127.0.0.1:8080/v1"
    assert config.models == ("qwen3-8b",)


def test_unknown_keys_are_rejected_with_their_name() -> None:
    with pytest.raises(ValidationError, match="temprature"):
        OracleConfig.model_validate({"temprature": 0.3})


def test_config_is_frozen() -> None:
    config = OracleConfig()
    with pytest.raises(ValidationError):
        config.model = "other"  # type: ignore[misc]


def test_mistral_defaults_to_its_api_and_needs_a_key() -> None:
    config = OracleConfig(provider="mistral", model="mistral-small-latest", api_key="k")  # type: ignore[arg-type]
    assert config.api_base == MISTRAL_BASE_URL
    with pytest.raises(ValidationError, match="needs an API key: set INVEST_LLM_API_KEY"):
        OracleConfig(provider="mistral")


def test_a_bare_host_gets_the_v1_root_and_trailing_slashes_go() -> None:
    assert OracleConfig(base_url="http://gpu:8080").api_base == "http://gpu:8080/v1"
    assert OracleConfig(base_url="http://gpu:11434/v1/").api_base == "http://gpu:11434/v1"
    with pytest.raises(ValidationError, match="base_url"):
        OracleConfig(base_url="gpu:8080")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("block", UnavailablePolicy("block", 0.0)),
        ("allow", UnavailablePolicy("allow", 1.0)),
        ("shrink:0.5", UnavailablePolicy("shrink", 0.5)),
        (" Shrink:0.25 ", UnavailablePolicy("shrink", 0.25)),
    ],
)
def test_on_unavailable_policies_parse(text: str, expected: UnavailablePolicy) -> None:
    assert OracleConfig(on_unavailable=text).policy == expected


@pytest.mark.parametrize("text", ["shrink:1.5", "shrink:", "shrink:x", "maybe", "shrink:-0.1"])
def test_bad_on_unavailable_policies_fail_at_start(text: str) -> None:
    with pytest.raises(ValidationError, match="on_unavailable"):
        OracleConfig(on_unavailable=text)


def test_the_api_key_never_shows_in_repr_or_dump() -> None:
    config = OracleConfig(api_key="sk-very-secret")  # type: ignore[arg-type]
    assert "sk-very-secret" not in repr(config)
    assert "sk-very-secret" not in str(config.model_dump())
    assert "sk-very-secret" not in config.model_dump_json()


def test_a_cost_budget_needs_prices() -> None:
    with pytest.raises(ValidationError, match="prices"):
        OracleConfig(budget_usd_per_day=1.0)
    OracleConfig(budget_usd_per_day=1.0, usd_per_million_input_tokens=0.2)


def test_the_main_model_cannot_also_be_a_fallback() -> None:
    with pytest.raises(ValidationError, match="fallback"):
        OracleConfig(model="a", fallback_models=("b", "a"))


def test_knowledge_cutoff_is_a_date() -> None:
    config = OracleConfig.model_validate({"knowledge_cutoff": "2024-10-01"})
    assert config.knowledge_cutoff == date(2024, 10, 1)


def test_every_field_has_a_docstring() -> None:
    missing = [n for n, f in OracleConfig.model_fields.items() if not f.description]
    assert missing == []
