"""Helpers shared by the packaging tests: the checkout, tools, clean environments."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
"""The checkout under test."""

SECRET_KEYS = ("ALPACA_API_KEY", "ALPACA_SECRET_KEY", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID")


def tool(name: str) -> str | None:
    """Find a command on PATH or beside this Python (a venv's bin/), or None."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def require_tool(name: str, install_hint: str) -> str:
    """Return the path of a tool, or skip the test with how to install it."""
    found = tool(name)
    if found is None:
        pytest.skip(f"{name} is not installed ({install_hint})")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without INVEST_* or secret variables, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("INVEST_") and k not in SECRET_KEYS and k != "CI"
    }
    # Tools installed beside this Python (shellcheck for actionlint, for example).
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def run(
    argv: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: Path = REPO,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command with a time limit; stdout and stderr are captured as text."""
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=input_text,
        stdin=None if input_text is not None else subprocess.DEVNULL,
    )


def explain(result: subprocess.CompletedProcess[str], tail: int = 4000) -> str:
    """A failure message with the command's exit code and the end of its output."""
    return (
        f"exit {result.returncode}\n--- stdout\n{result.stdout[-tail:]}\n"
        f"--- stderr\n{result.stderr[-tail:]}"
    )


def bash_lib(script: str, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a bash snippet with installer/lib.sh sourced (and its defaults set)."""
    program = (
        f"set -euo pipefail\nINVEST_CLEANUP=()\nsource installer/lib.sh\ninv_defaults\n{script}"
    )
    return run(["bash", "-c", program], env=env)


@contextmanager
def models_server(
    models: Sequence[str] = (), chat_status: int = 200, json_mode: bool = True
) -> Iterator[str]:
    """A local OpenAI-style server on 127.0.0.1 serving ``models``; yields its URL.

    ``GET /v1/models`` lists ``models``; ``POST /v1/chat/completions`` answers
    ``chat_status`` (200: a one-word answer, or ``{"ok": true}`` in JSON mode; a
    request with ``response_format`` gets 400 unless ``json_mode``).
    """
    body = json.dumps({"data": [{"id": m} for m in models]}).encode()

    class Models(http.server.BaseHTTPRequestHandler):
        def _send(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._send(200 if self.path == "/v1/models" else 404, body)

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            wants_json = "response_format" in request
            if self.path != "/v1/chat/completions" or chat_status != 200:
                self._send(404 if chat_status == 200 else chat_status, b'{"error": "down"}')
            elif wants_json and not json_mode:
                self._send(400, b'{"error": "response_format not supported"}')
            else:
                content = '{"ok": true}' if wants_json else "OK"
                answer = {"model": request["model"], "choices": [{"message": {"content": content}}]}
                self._send(200, json.dumps(answer).encode())

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Models)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
