"""`invest web` behind a login: the real aiohttp server on 127.0.0.1, real HTTP and WebSockets.

Each test starts :class:`~invest.tui.web_server.WebServer` on a free loopback
port and talks to it with aiohttp's client. The TUI command is replaced by a
small Python script (the session's process), so no Textual app starts.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web as aioweb

from invest.runtime.errors import ConfigError
from invest.runtime.paths import Paths
from invest.tui import web
from invest.tui.data.engine import EngineLink, actor
from invest.tui.web_server import COOKIE, FailedLogins, WebServer

from .conftest import NOW, FakeEngine

TOKEN = "correct-horse-battery-staple-42"  # noqa: S105 - a test token
EVIL = "http://evil.example"
WRONG = "wrong-token-wrong-token"
T = TypeVar("T")

# The stand-in for `python -m invest.tui`: it records its audit actor, then says
# hello and "exit" in textual-serve's framing, so the server closes the socket.
_SESSION_SCRIPT = """
import json, os, pathlib, sys
pathlib.Path(sys.argv[1]).write_text(os.environ.get("INVEST_ACTOR", "<unset>"))
meta = json.dumps({"type": "exit"}).encode()
sys.stdout.buffer.write(b"__GANGLION__\\n" + b"M" + len(meta).to_bytes(4, "big") + meta)
sys.stdout.flush()
"""


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    """Run one async scenario, bounded (a hang fails the test instead of blocking the suite)."""

    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), timeout=60)

    return asyncio.run(bounded())


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@asynccontextmanager
async def serving(server: WebServer) -> AsyncIterator[str]:
    """Serve ``server``'s real aiohttp app on 127.0.0.1:<free port>; yields its origin."""
    runner = aioweb.AppRunner(await server._make_app())
    await runner.setup()
    try:
        site = aioweb.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def make_server(tmp_path: Path, **kwargs: Any) -> WebServer:
    script = tmp_path / "session.py"
    script.write_text(_SESSION_SCRIPT)
    cmd = " ".join(map(shlex.quote, (sys.executable, str(script), str(tmp_path / "actor.txt"))))
    return WebServer(cmd, token=TOKEN, **kwargs)


async def login(
    http: aiohttp.ClientSession, origin: str, token: str = TOKEN
) -> aiohttp.ClientResponse:
    async with http.post(
        f"{origin}/login", data={"token": token}, headers={"Origin": origin}, allow_redirects=False
    ) as r:
        await r.read()
        return r


async def session_cookie(http: aiohttp.ClientSession, origin: str) -> str:
    r = await login(http, origin)
    assert r.status == 303
    return r.cookies[COOKIE].value


async def ws_status(http: aiohttp.ClientSession, origin: str, headers: dict[str, str]) -> int:
    """The status of a WebSocket upgrade to /ws (101 when accepted, then closed)."""
    url = origin.replace("http://", "ws://") + "/ws"
    try:
        ws = await http.ws_connect(url, headers=headers)
    except aiohttp.WSServerHandshakeError as e:
        return e.status
    await ws.close()
    return 101


def _client() -> aiohttp.ClientSession:
    # No cookie jar: every test passes its cookie explicitly, so nothing leaks between requests.
    return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())


def test_without_a_session_the_page_is_the_login_form(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(make_server(tmp_path)) as origin, _client() as http:
            async with http.get(f"{origin}/") as r:
                assert r.status == 401
                body = await r.text()
            assert 'name="token"' in body
            assert "textual.js" not in body
            async with http.get(f"{origin}/download/anything") as r:
                assert r.status == 403
            async with http.get(f"{origin}/static/js/textual.js") as r:
                assert r.status == 403
            async with http.get(f"{origin}/", headers={"Cookie": f"{COOKIE}=forged"}) as r:
                assert r.status == 401

    run(scenario)


def test_a_wrong_token_is_refused_then_rate_limited(tmp_path: Path) -> None:
    clock = Clock()
    server = make_server(tmp_path, failed_logins=FailedLogins(limit=3, window_s=60, clock=clock))

    async def scenario() -> None:
        async with serving(server) as origin, _client() as http:
            for _ in range(3):
                r = await login(http, origin, token=WRONG)
                assert r.status == 401
                assert COOKIE not in r.cookies
            r = await login(http, origin, token=WRONG)
            assert r.status == 429
            assert int(r.headers["Retry-After"]) > 0
            r = await login(http, origin)  # the right token waits too
            assert r.status == 429
            assert COOKIE not in r.cookies
            clock.t += 61
            r = await login(http, origin)
            assert r.status == 303

    run(scenario)


def test_the_default_limit_is_five_failures(tmp_path: Path) -> None:
    async def scenario() -> list[int]:
        async with serving(make_server(tmp_path)) as origin, _client() as http:
            return [(await login(http, origin, token="nope" * 5)).status for _ in range(6)]

    assert run(scenario) == [401] * 5 + [429]


def test_the_right_token_gives_a_strict_http_only_session_cookie(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(make_server(tmp_path)) as origin, _client() as http:
            r = await login(http, origin)
            assert r.status == 303
            assert r.headers["Location"] == "/"
            morsel = r.cookies[COOKIE]
            assert len(morsel.value) >= 32
            assert morsel["httponly"]
            assert morsel["samesite"] == "Strict"
            assert morsel["path"] == "/"
            assert 0 < int(morsel["max-age"]) <= 24 * 3600
            assert not morsel["secure"]  # plain http on loopback
            async with http.get(f"{origin}/", headers={"Cookie": f"{COOKIE}={morsel.value}"}) as r:
                assert r.status == 200
                assert "textual.js" in await r.text()
            # A second login is a different session.
            assert (await session_cookie(http, origin)) != morsel.value

    run(scenario)


def test_a_login_post_needs_this_origin(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(make_server(tmp_path)) as origin, _client() as http:
            for headers in ({"Origin": EVIL}, {}):
                async with http.post(
                    f"{origin}/login", data={"token": TOKEN}, headers=headers, allow_redirects=False
                ) as r:
                    assert r.status == 403
                    assert COOKIE not in r.cookies

    run(scenario)


def test_the_websocket_refuses_a_foreign_or_missing_origin_even_with_a_cookie(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with serving(make_server(tmp_path)) as origin, _client() as http:
            cookie = f"{COOKIE}={await session_cookie(http, origin)}"
            assert await ws_status(http, origin, {"Origin": EVIL, "Cookie": cookie}) == 403
            assert await ws_status(http, origin, {"Cookie": cookie}) == 403
            other_port = origin.rsplit(":", 1)[0] + ":1"
            assert await ws_status(http, origin, {"Origin": other_port, "Cookie": cookie}) == 403

    run(scenario)
    assert not (tmp_path / "actor.txt").exists()  # no session process started


def test_logout_ends_the_session_server_side(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(make_server(tmp_path)) as origin, _client() as http:
            cookie = {"Cookie": f"{COOKIE}={await session_cookie(http, origin)}"}
            async with http.get(f"{origin}/", headers=cookie) as r:
                assert r.status == 200
            foreign = {**cookie, "Origin": EVIL}
            async with http.post(f"{origin}/logout", headers=foreign, allow_redirects=False) as r:
                assert r.status == 403  # a cross-origin logout is refused like any POST
            mine = {**cookie, "Origin": origin}
            async with http.post(f"{origin}/logout", headers=mine, allow_redirects=False) as r:
                assert r.status == 303
                assert r.headers["Location"] == "/login"
            async with http.get(f"{origin}/", headers=cookie) as r:
                assert r.status == 401  # the old cookie is dead, even if a copy was kept
            assert await ws_status(http, origin, mine) == 403

    run(scenario)


def test_the_websocket_needs_a_session_cookie(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(make_server(tmp_path)) as origin, _client() as http:
            assert await ws_status(http, origin, {"Origin": origin}) == 403
            forged = {"Origin": origin, "Cookie": f"{COOKIE}=forged-cookie"}
            assert await ws_status(http, origin, forged) == 403

    run(scenario)
    assert not (tmp_path / "actor.txt").exists()


def test_a_session_with_cookie_and_origin_runs_the_tui_as_its_web_actor(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(make_server(tmp_path)) as origin, _client() as http:
            cookie = f"{COOKIE}={await session_cookie(http, origin)}"
            url = origin.replace("http://", "ws://") + "/ws"
            async with http.ws_connect(url, headers={"Origin": origin, "Cookie": cookie}) as ws:
                async for _ in ws:  # until the session's process says "exit"
                    pass

    run(scenario)
    assert re.fullmatch(
        r"web \(session [0-9a-f]{8} from 127\.0\.0\.1\)", (tmp_path / "actor.txt").read_text()
    )


_URL = re.compile(r"""(?:src|href|action)\s*=\s*["']([^"']*)|url\(\s*["']?([^"')]*)""")
_ABSOLUTE = re.compile(r"""\b(?:https?|wss?)://[^\s"'<>)]+""")
SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # an XML namespace name, never fetched


def off_box(text: str, origin: str) -> list[str]:
    """Absolute URLs in ``text`` that are not on ``origin`` (http or ws)."""
    here = (origin, origin.replace("http://", "ws://"))
    return [u for u in _ABSOLUTE.findall(text) if u != SVG_NAMESPACE and not u.startswith(here)]


def test_the_page_and_its_assets_make_no_request_off_the_box(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(make_server(tmp_path)) as origin, _client() as http:
            async with http.get(f"{origin}/login") as r:
                assert off_box(await r.text(), origin) == []
            cookie = {"Cookie": f"{COOKIE}={await session_cookie(http, origin)}"}
            async with http.get(f"{origin}/", headers=cookie) as r:
                page = await r.text()
                csp = r.headers["Content-Security-Policy"]
            assert off_box(page, origin) == []
            assert "googleapis" not in page
            assert f'data-session-websocket-url="{origin.replace("http", "ws")}/ws"' in page
            refs = [a or b for a, b in _URL.findall(page)]
            assert any(ref.endswith(".ttf") for ref in refs)  # the font is served from here
            for ref in refs:
                assert ref.startswith("/"), ref
                if ref == "/logout":  # the log-out form's POST target, not an asset
                    continue
                async with http.get(f"{origin}{ref}", headers=cookie) as r:
                    assert r.status == 200, ref
                    if ref.endswith(".css"):
                        css_urls = [a or b for a, b in _URL.findall(await r.text())]
                        assert all(not _ABSOLUTE.match(u) for u in css_urls), css_urls
            assert "default-src 'self'" in csp
            assert "frame-ancestors 'none'" in csp

    run(scenario)


def test_a_tls_proxy_origin_is_the_https_one(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(make_server(tmp_path)) as origin, _client() as http:
            https_origin = origin.replace("http://", "https://")
            proxied = {"X-Forwarded-Proto": "https"}
            async with http.post(
                f"{origin}/login",
                data={"token": TOKEN},
                headers={**proxied, "Origin": https_origin},
                allow_redirects=False,
            ) as r:
                assert r.status == 303
                assert r.cookies[COOKIE]["secure"]
            async with http.post(
                f"{origin}/login",
                data={"token": TOKEN},
                headers={**proxied, "Origin": origin},
                allow_redirects=False,
            ) as r:
                assert r.status == 403

    run(scenario)


# --- `invest web` itself: the token, the bind address, the actor --------------------------------


class _Server:
    made: list[dict[str, Any]] = []  # noqa: RUF012 - a recorder

    def __init__(self, command: str, **kwargs: Any) -> None:
        self.made.append({"command": command, **kwargs})

    def serve(self) -> None:
        """Return at once."""


@pytest.fixture
def secrets_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "secrets.env"
    monkeypatch.setenv("INVEST_SECRETS", str(path))
    return path


def _write_secrets(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


def test_without_a_token_invest_web_refuses_to_start_and_says_how(
    paths: Paths, secrets_file: Path
) -> None:
    with pytest.raises(ConfigError, match=r"INVEST_WEB_TOKEN=<token> to .*secrets\.env") as e:
        web.main(paths, server=_Server, environ={})
    assert "\n" not in str(e.value)
    _write_secrets(secrets_file, "INVEST_WEB_TOKEN=short\n")
    with pytest.raises(ConfigError, match="shorter than 16"):
        web.main(paths, server=_Server, environ={})
    secrets_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        web.main(paths, server=_Server, environ={})


def test_invest_web_reads_the_token_from_the_secrets_file(
    paths: Paths, secrets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_secrets(secrets_file, f"INVEST_WEB_TOKEN={TOKEN}\n")
    assert web.main(paths, server=_Server, environ={}) == 0
    made = _Server.made[-1]
    assert made["token"] == TOKEN
    assert (made["host"], made["port"]) == ("127.0.0.1", 8000)
    assert TOKEN not in made["command"]
    assert capsys.readouterr().err == ""
    assert web.main(paths, server=_Server, environ={"INVEST_WEB_TOKEN": "e" * 20}) == 0
    assert _Server.made[-1]["token"] == "e" * 20  # the environment wins


def test_invest_web_warns_beyond_loopback(paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    web.main(paths, host="0.0.0.0", port=9000, server=_Server, environ={"INVEST_WEB_TOKEN": TOKEN})  # noqa: S104 - the case under test
    err = capsys.readouterr().err
    assert "0.0.0.0:9000 over plain HTTP" in err
    assert TOKEN not in err


def test_the_tui_names_its_actor_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert actor({}) == "tui"
    assert actor({"INVEST_ACTOR": "web (session 0a1b2c3d from ::1)"}) == (
        "web (session 0a1b2c3d from ::1)"
    )
    assert actor({"INVEST_ACTOR": "evil\n\x1b[2Jname" + "x" * 200}) == ("evil[2Jname" + "x" * 69)
    assert actor({"INVEST_ACTOR": "\n"}) == "tui"
    monkeypatch.setenv("INVEST_ACTOR", "web (session 0a1b2c3d from 127.0.0.1)")
    engine = FakeEngine()
    EngineLink(engine, lambda: NOW).flatten("trend-daily")
    assert {r.actor for r in engine.writes} == {"web (session 0a1b2c3d from 127.0.0.1)"}
