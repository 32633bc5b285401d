"""Secrets come from a private file or the environment; the notify config denies by default."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from invest.runtime.config.notify import ChatAccess, TelegramConfig
from invest.runtime.errors import ConfigError
from invest.runtime.redact import REDACTED, TokenRedactingFilter, install_redaction
from invest.runtime.secrets import load_secrets


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_secrets_are_read_from_a_private_file(tmp_path: Path) -> None:
    f = write(
        tmp_path / "secrets.env",
        "# invest secrets\n\nALPACA_API_KEY=PKFILE\nexport ALPACA_SECRET_KEY='s3cr3t'\n"
        'TELEGRAM_BOT_TOKEN="123:abc"\nOPENAI_API_KEY=ignored\n',
    )
    s = load_secrets(f, environ={})
    assert s.alpaca_api_key is not None
    assert s.alpaca_api_key.get_secret_value() == "PKFILE"
    assert s.alpaca_secret_key is not None
    assert s.alpaca_secret_key.get_secret_value() == "s3cr3t"
    assert s.telegram_bot_token is not None
    assert s.telegram_bot_token.get_secret_value() == "123:abc"
    assert s.discord_webhook_url is None
    assert "PKFILE" not in repr(s)
    assert "s3cr3t" not in str(s)


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    f = write(tmp_path / "secrets.env", "ALPACA_API_KEY=PKFILE\n")
    s = load_secrets(f, environ={"ALPACA_API_KEY": "PKENV", "DISCORD_WEBHOOK_URL": "https://x"})
    assert s.alpaca_api_key is not None
    assert s.alpaca_api_key.get_secret_value() == "PKENV"
    assert s.discord_webhook_url is not None


def test_no_file_means_the_environment_only(tmp_path: Path) -> None:
    assert load_secrets(tmp_path / "absent.env", environ={}).alpaca_api_key is None
    assert load_secrets(None, environ={"TELEGRAM_BOT_TOKEN": "t"}).telegram_bot_token is not None


@pytest.mark.parametrize("mode", [0o640, 0o644, 0o604, 0o660])
def test_a_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    f = write(tmp_path / "secrets.env", "ALPACA_API_KEY=PKFILE\n", mode)
    with pytest.raises(ConfigError, match="chmod 600") as info:
        load_secrets(f, environ={})
    assert "PKFILE" not in str(info.value)


def test_a_malformed_line_names_its_number_and_not_its_value(tmp_path: Path) -> None:
    f = write(tmp_path / "secrets.env", "ALPACA_API_KEY=ok\nthis-is-a-secret-by-mistake\n")
    with pytest.raises(ConfigError, match=r"secrets.env:2: expected KEY=VALUE") as info:
        load_secrets(f, environ={})
    assert "this-is-a-secret" not in str(info.value)


def test_the_telegram_config_denies_by_default_and_rejects_unknown_keys() -> None:
    assert TelegramConfig().chats == ()
    with pytest.raises(ValidationError):
        TelegramConfig(chat_ids=[1])  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ChatAccess(chat_id=1, user_ids=())
    with pytest.raises(ValidationError):
        ChatAccess(chat_id=1, user_ids=(1,), role="admin")


def test_a_user_cannot_hold_two_roles_in_one_chat() -> None:
    with pytest.raises(ValidationError, match="both viewer and trader"):
        TelegramConfig(
            chats=(
                ChatAccess(chat_id=1, user_ids=(7,), role="viewer"),
                ChatAccess(chat_id=1, user_ids=(7,), role="trader"),
            )
        )


def test_the_redacting_filter_cleans_args_exceptions_and_token_shapes() -> None:
    f = TokenRedactingFilter(["my-secret-value"])
    try:
        raise ValueError("boom with my-secret-value inside")
    except ValueError:
        exc = sys.exc_info()
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "calling %s and %s", ("my-secret-value", "ok"), exc
    )
    f.filter(record)
    assert record.getMessage() == f"calling {REDACTED} and ok"
    assert "my-secret-value" not in (record.exc_text or "")
    shaped = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "GET https://api.telegram.org/bot123456789:AAE_abcdefghijklmnopqrstuvwxyz012/getMe "
        "and https://discord.com/api/webhooks/12345/abcDEF_ghi",
        None,
        None,
    )
    f.filter(shaped)
    assert shaped.getMessage() == (
        f"GET https://api.telegram.org/bot{REDACTED}/getMe "
        f"and https://discord.com/api/webhooks/12345/{REDACTED}"
    )


def test_installed_redaction_covers_loggers_and_handlers_made_later(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_redaction("late-secret-123")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("some.library.made.later").debug("token=%s", "late-secret-123")
    assert "late-secret-123" not in caplog.text
    assert f"token={REDACTED}" in caplog.text
    assert logging.getLogger("httpx").level == logging.WARNING


def test_the_config_models_import_without_telegram_or_alpaca() -> None:
    code = (
        "import sys, invest.runtime.config.notify, invest.runtime.secrets, "
        "invest.runtime.adapters.alpaca.broker; "
        "print(','.join(m for m in ('telegram', 'httpx', 'alpaca', 'requests', 'pandas') "
        "if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def test_every_public_name_of_the_package_resolves() -> None:
    import invest.runtime.notify as notify

    assert all(getattr(notify, name) is not None for name in notify.__all__)
