"""Logs: key=value lines to a rotating file and stdout, with secrets masked (invariant 6)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from invest.runtime.logs import setup_logging
from invest.runtime.redact import RedactionFilter, redact

TOKEN = "123456789:AAHk3jT9vQx2LmN8pQrStUvWxYz0123456789"  # noqa: S105 - a fake token to mask
SECRET = "s3cr3t-Alpaca-Secret-Key-40charsXyZ0123456"  # noqa: S105 - a fake secret to mask


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root")
def test_the_redaction_filter_masks_a_bot_token_in_formatted_lines_and_the_file(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    setup_logging(tmp_path, stream=out, secrets=[SECRET])
    log = logging.getLogger("invest.test")
    log.info("GET https://api.telegram.org/bot%s/getUpdates", TOKEN)
    log.warning("alpaca login with secret_key=%s failed", SECRET, extra={"kv": {"key": SECRET}})
    try:
        raise ValueError(f"bad token {TOKEN}")
    except ValueError:
        log.exception("boom")
    text = out.getvalue()
    stored = (tmp_path / "invest-engine.log").read_text()
    for body in (text, stored):
        assert TOKEN not in body
        assert SECRET not in body
        assert "[REDACTED]" in body
        assert "level=INFO logger=invest.test" in body


def test_hashes_and_client_order_ids_stay_readable() -> None:
    line = "order inv-3f9a0c1d2e4b5a6978c0d1e2 sha256 " + "ab" * 32
    assert redact(line) == line


def test_key_value_secrets_and_bearer_tokens_are_masked() -> None:
    assert redact("api_key=PKTEST1234567890ABCD ok") == "api_key=[REDACTED] ok"
    assert redact('{"token": "abcdef123456"}') == '{"token": "[REDACTED]"}'
    masked = redact("Authorization: Bearer abc.def.ghi12345")
    assert "abc.def" not in masked
    assert masked.endswith("[REDACTED]")
    assert redact("https://user:hunter2@host/x") == "https://user:[REDACTED]@host/x"


def test_the_filter_masks_a_record_for_any_handler() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", (TOKEN,), None)
    assert RedactionFilter().filter(record)
    assert record.getMessage() == "token [REDACTED]"


@pytest.mark.usefixtures("restore_root")
def test_http_client_loggers_are_held_at_warning(tmp_path: Path) -> None:
    setup_logging(None, stream=io.StringIO())
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING
