"""``Settings`` merges the ``INVEST__*`` environment exactly as ``BaseSettings`` did.

``Settings`` is a plain pydantic model that imports pydantic-settings only when the
environment or a key's case needs its sources. The reference here is the class it
replaced: a ``BaseSettings`` with the same fields and sources (environment over the
init arguments); both must produce the same settings, or the same errors.
"""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from pydantic import ValidationError, create_model
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from invest.runtime.config import Settings
from invest.runtime.paths import example_config


class _Reference(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="INVEST__",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)


Reference = create_model(
    "Settings",
    __base__=_Reference,
    **{name: (info.annotation, info) for name, info in Settings.model_fields.items()},  # type: ignore[call-overload]
)


def _outcome(cls: Any, data: dict[str, Any]) -> Any:
    try:
        s = cls(**data)
    except ValidationError as e:
        return [(err["loc"], err["msg"], err["type"]) for err in e.errors()]
    return s.model_dump(), sorted(s.model_fields_set)


def _example() -> dict[str, Any]:
    with example_config().open("rb") as f:
        return tomllib.load(f)


CASES = [
    pytest.param({}, lambda d: d, id="no-override"),
    pytest.param({"INVEST__ENGINE__DATA": "yfinance"}, lambda d: d, id="engine-data"),
    pytest.param({"invest__engine__timezone": "UTC"}, lambda d: d, id="lowercase-variable"),
    pytest.param({"INVEST__ENGINE__TIMEZONE": "Mars/Olympus"}, lambda d: d, id="bad-value"),
    pytest.param({"INVEST__ENGINE__FILLS__SLIPPAGE_BPS": "7"}, lambda d: d, id="nested-section"),
    pytest.param({"INVEST__ENGINE": '{"data": "alpaca"}'}, lambda d: d, id="json-section"),
    pytest.param(
        {"INVEST__ACCOUNTS__TREND-DAILY__CASH": "5000"}, lambda d: d, id="into-an-account"
    ),
    pytest.param({"INVEST__NOSUCH": "1"}, lambda d: d, id="unknown-variable"),
    pytest.param({}, lambda d: {"Engine": d.pop("engine", {}), **d}, id="section-case"),
    pytest.param({}, lambda d: {**d, "nosuch": {}}, id="unknown-section"),
    pytest.param({"INVEST__ENGINE__DATA": "csv:x"}, lambda d: {}, id="empty-file"),
]


@pytest.mark.parametrize(("env", "edit"), CASES)
def test_settings_match_base_settings(
    env: dict[str, str], edit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    data = edit(_example())
    assert _outcome(Settings, data) == _outcome(Reference, data)
