"""The ``INVEST__*`` environment overrides, merged by pydantic-settings' own sources.

Imported only when the environment holds an ``INVEST__`` variable or a top-level key
of the file differs from a section name only by case (pydantic-settings matches
those case-insensitively): pydantic-settings costs a noticeable fraction of a second
to import, and every other start does without it. The merge is the one
``BaseSettings`` performs with the sources :class:`~.settings.Settings` always had,
environment over file: :class:`InitSettingsSource` for the file's tables,
:class:`EnvSettingsSource` for the variables (``INVEST__SECTION__KEY``, nested by
``__``, case-insensitive), deep-merged; then ``Settings`` validates the result.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import create_model
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    SettingsConfigDict,
)

__all__ = ["ENV_PREFIX", "merged_with_environment"]

ENV_PREFIX = "INVEST__"


class _Sources(BaseSettings):
    """The settings configuration the sources read (never instantiated)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


@lru_cache(maxsize=1)
def _twin() -> type[BaseSettings]:
    """A ``BaseSettings`` with the fields of ``Settings``: what the sources walk."""
    from invest.runtime.config.settings import Settings

    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in Settings.model_fields.items()
    }
    return create_model("Settings", __base__=_Sources, **fields)


def _deep_update(mapping: dict[str, Any], updating: dict[str, Any]) -> dict[str, Any]:
    """``mapping`` updated by ``updating``, nested tables merged (pydantic's ``deep_update``)."""
    updated = mapping.copy()
    for k, v in updating.items():
        if k in updated and isinstance(updated[k], dict) and isinstance(v, dict):
            updated[k] = _deep_update(updated[k], v)
        else:
            updated[k] = v
    return updated


def merged_with_environment(data: dict[str, Any]) -> dict[str, Any]:
    """The file's tables ``data`` with the ``INVEST__*`` variables laid over them."""
    twin = _twin()
    init = InitSettingsSource(twin, init_kwargs=data)()
    return _deep_update(init, EnvSettingsSource(twin)())
