"""The textual-serve server behind ``invest web``, with a login and an Origin check.

textual-serve's :class:`~textual_serve.server.Server` is an aiohttp app with no
authentication: anyone who can open its WebSocket drives a TUI that can halt and
flatten accounts. :class:`WebServer` subclasses it and adds only what the
library lacks:

- a login page (``GET /login``, ``POST /login``) that checks the token with
  :func:`hmac.compare_digest` and sets a random session cookie (HttpOnly,
  SameSite=Strict, Secure over https, Max-Age ``SESSION_TTL_S``);
- a middleware: every route but the login page (``/static`` too) needs a live
  session (``GET /`` without one shows the login page with 401, anything else
  403); the WebSocket and every request that is not GET or HEAD need an
  ``Origin`` equal to the origin the client reached (``scheme://Host``), else 403;
- :class:`FailedLogins`: at most ``limit`` failed logins per client address
  per ``window_s``, then 429 with ``Retry-After`` (even for the right token);
- security headers on every response (a Content-Security-Policy that allows this
  origin only, ``frame-ancestors 'none'`` against clickjacking, no referrer);
- its own page template (``web_templates/app_index.html``): the upstream one
  loads Roboto Mono from Google Fonts; ours serves the copy textual-serve ships
  in its static folder, and builds the WebSocket URL from the request's Host so
  an SSH tunnel on another port works;
- a WebSocket handler that starts each browser session's TUI with
  ``INVEST_ACTOR=web (session <label> from <address>)``, so the audit log names
  the session (upstream passes one fixed command to every session).

Sessions and failure counts live in memory: restarting ``invest web`` logs
everyone out.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import shlex
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from .data.engine import ACTOR_ENV
from .web_reports import REPORT_CSP, ReportRoutes

logger = logging.getLogger("invest.web")

TEMPLATES = Path(__file__).with_name("web_templates")
COOKIE = "invest_session"
SESSION_TTL_S = 12 * 3600.0
MAX_SESSIONS = 64
LOGIN_LIMIT = 5
LOGIN_WINDOW_S = 60.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FailedLogins:
    """At most ``limit`` failed logins per client address in any ``window_s`` seconds.

    Args:
        limit: failures allowed in the window; the next attempt gets 429.
        window_s: the sliding window.
        clock: monotonic seconds (tests inject one).
        max_clients: addresses remembered; past it, the stalest are forgotten.
    """

    def __init__(
        self,
        limit: int = LOGIN_LIMIT,
        window_s: float = LOGIN_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 4096,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again (0: now)."""
        now = self.clock()
        times = self._failures.get(client)
        if times is None:
            return 0.0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[client]
            return 0.0
        if len(times) < self.limit:
            return 0.0
        return max(times[0] + self.window_s - now, 1.0)

    def failed(self, client: str) -> None:
        """Count one failed login from ``client``."""
        if client not in self._failures and len(self._failures) >= self.max_clients:
            stalest = min(self._failures, key=lambda c: self._failures[c][-1])
            del self._failures[stalest]
        self._failures.setdefault(client, deque()).append(self.clock())

    def succeeded(self, client: str) -> None:
        """Forget ``client``'s failures."""
        self._failures.pop(client, None)


@dataclass(frozen=True)
class Session:
    """One login: a public label for the audit log, the client address and the expiry."""

    label: str
    client: str
    expires: float


# A typed request key (aiohttp >= 3.13 warns on plain string keys); older aiohttp takes a str.
_SESSION_KEY: Any = (
    web.RequestKey("invest_session", Session) if hasattr(web, "RequestKey") else "invest_session"
)


class Sessions:
    """Live sessions by cookie (kept as sha256, so the table never holds a usable cookie)."""

    def __init__(
        self,
        ttl_s: float = SESSION_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.max_sessions = max_sessions
        self._by_digest: dict[str, Session] = {}

    @staticmethod
    def _digest(cookie: str) -> str:
        return hashlib.sha256(cookie.encode("utf-8", "surrogateescape")).hexdigest()

    def create(self, client: str) -> tuple[str, Session]:
        """A new session for ``client``: (the cookie value, the session)."""
        now = self.clock()
        self._by_digest = {d: s for d, s in self._by_digest.items() if s.expires > now}
        while len(self._by_digest) >= self.max_sessions:
            oldest = min(self._by_digest, key=lambda d: self._by_digest[d].expires)
            del self._by_digest[oldest]
        cookie = secrets.token_urlsafe(32)
        session = Session(secrets.token_hex(4), client, now + self.ttl_s)
        self._by_digest[self._digest(cookie)] = session
        return cookie, session

    def revoke(self, cookie: str | None) -> Session | None:
        """End the session of ``cookie`` (logout); the session it was, or None."""
        return self._by_digest.pop(self._digest(cookie), None) if cookie else None

    def get(self, cookie: str | None) -> Session | None:
        """The live session of ``cookie``, or None (unknown or expired)."""
        if not cookie:
            return None
        digest = self._digest(cookie)
        session = self._by_digest.get(digest)
        if session is None:
            return None
        if session.expires <= self.clock():
            del self._by_digest[digest]
            return None
        return session


def _https(request: web.Request) -> bool:
    """True when the client reached us over https (directly, or per a TLS proxy's ``X-Forwarded-Proto``).

    Trusting the header is safe for what it decides (the scheme of the expected
    Origin, the cookie's Secure flag, ws or wss): a browser page cannot set it on
    a WebSocket or a form POST, and a non-browser client can forge Origin anyway,
    which is why every route also needs the session cookie.
    """
    forwarded = request.headers.get("X-Forwarded-Proto", "").strip().lower()
    return forwarded == "https" if forwarded in ("http", "https") else request.secure


def served_origin(request: web.Request) -> str:
    """The origin the client reached: ``scheme://Host`` (lower case)."""
    scheme = "https" if _https(request) else "http"
    return f"{scheme}://{request.host}".lower()


def same_origin(request: web.Request) -> bool:
    """True when the request's ``Origin`` header equals :func:`served_origin`."""
    origin = request.headers.get("Origin")
    return origin is not None and hmac.compare_digest(
        origin.lower().encode(), served_origin(request).encode()
    )


def _is_websocket(request: web.Request) -> bool:
    return request.path == "/ws" or request.headers.get("Upgrade", "").lower() == "websocket"


def _is_report(request: web.Request) -> bool:
    return request.path == "/reports" or request.path.startswith("/reports/")


def _shows_login(request: web.Request) -> bool:
    """A page a person opens (the TUI, a report): without a session it gets the login form."""
    return request.method in ("GET", "HEAD") and (request.path == "/" or _is_report(request))


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


class WebServer(Server):  # type: ignore[misc]
    """textual-serve's server with a login, sessions, an Origin check and local assets.

    Args:
        command: the shell command that starts one TUI (``INVEST_ACTOR`` is prepended).
        token: the login token (compared with :func:`hmac.compare_digest`).
        host, port, title: as for textual-serve's ``Server``.
        sessions, failed_logins: injected for tests (default: fresh ones).
        reports: the reports folder served at ``/reports`` (:mod:`invest.tui.web_reports`);
            None serves none.
    """

    def __init__(
        self,
        command: str,
        *,
        token: str,
        host: str = "127.0.0.1",
        port: int = 8000,
        title: str = "Invest",
        sessions: Sessions | None = None,
        failed_logins: FailedLogins | None = None,
        reports: Path | None = None,
    ) -> None:
        super().__init__(command, host=host, port=port, title=title, templates_path=TEMPLATES)
        self.reports = reports
        self._token = token.encode("utf-8")
        self.sessions = sessions or Sessions()
        self.failed_logins = failed_logins or FailedLogins()

    async def _make_app(self) -> web.Application:
        app: web.Application = await super()._make_app()
        app.middlewares.append(self._guard)
        app.router.add_get("/login", self.handle_login_page, name="login")
        app.router.add_post("/login", self.handle_login)
        app.router.add_post("/logout", self.handle_logout)
        if self.reports is not None:
            ReportRoutes(self.reports).add_to(app)
        app.on_response_prepare.append(_security_headers)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Origin check on the WebSocket and on every non-GET; a session everywhere but /login.

        ``/static`` needs a session too: the login page uses none of it, and the
        library's folder listing need not tell strangers which version runs here.
        """
        websocket = _is_websocket(request)
        if (websocket or request.method not in ("GET", "HEAD")) and not same_origin(request):
            logger.warning(
                "web: %s %s from %s refused: Origin %r is not %s",
                request.method,
                request.path,
                _client(request),
                request.headers.get("Origin"),
                served_origin(request),
            )
            raise web.HTTPForbidden(text="forbidden: cross-origin request")
        if request.path == "/login":
            return await handler(request)
        session = self.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            if _shows_login(request) and not websocket:
                return self._login_page(request, status=401)
            raise web.HTTPForbidden(text="forbidden: log in at /login")
        request[_SESSION_KEY] = session
        return await handler(request)

    def _login_page(self, request: web.Request, status: int = 200, error: str = "") -> web.Response:
        response = aiohttp_jinja2.render_template(
            "login.html", request, {"title": self.title, "error": error}, status=status
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    async def handle_login_page(self, request: web.Request) -> web.Response:
        """``GET /login``: the form."""
        return self._login_page(request)

    async def handle_login(self, request: web.Request) -> web.StreamResponse:
        """``POST /login``: 303 to ``/`` with a session cookie, 401 on a wrong token, 429 when rate limited."""
        client = _client(request)
        wait = self.failed_logins.retry_after(client)
        if wait > 0:
            logger.warning("web: login from %s refused: too many failed logins", client)
            response = self._login_page(
                request, status=429, error=f"Too many failed logins: wait {wait:.0f} s."
            )
            response.headers["Retry-After"] = str(int(wait + 0.999))
            return response
        form = await request.post()
        given = form.get("token")
        if not isinstance(given, str) or not hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), self._token
        ):
            self.failed_logins.failed(client)
            logger.warning("web: failed login from %s", client)
            return self._login_page(request, status=401, error="Wrong token.")
        self.failed_logins.succeeded(client)
        cookie, session = self.sessions.create(client)
        logger.info("web: login from %s, session %s", client, session.label)
        response = web.Response(status=303, headers={"Location": "/"})
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(self.sessions.ttl_s),
            path="/",
            httponly=True,
            samesite="Strict",
            secure=_https(request),
        )
        return response

    async def handle_logout(self, request: web.Request) -> web.StreamResponse:
        """``POST /logout`` (a session and this origin, as the guard checks): end it, 303 to /login.

        The cookie is dropped server-side, so a copy of it kept elsewhere is dead too.
        """
        session = self.sessions.revoke(request.cookies.get(COOKIE))
        if session is not None:
            logger.info("web: logout of session %s from %s", session.label, _client(request))
        response = web.Response(status=303, headers={"Location": "/login"})
        response.del_cookie(COOKIE, path="/")
        return response

    async def handle_index(self, request: web.Request) -> web.Response:
        """The TUI page, with every URL on the origin the client reached."""
        scheme = "wss" if _https(request) else "ws"
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{scheme}://{request.host}/ws",
            "config": {"static": {"url": "/static/"}},
            "application": {"name": self.title},
            "reports_url": "/reports" if self.reports is not None else "",
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        response.headers["Cache-Control"] = "no-store"
        return response

    def session_command(self, request: web.Request) -> str:
        """The TUI command for this browser session, with its audit actor."""
        session: Session = request[_SESSION_KEY]
        actor = f"web (session {session.label} from {_client(request)})"
        return f"{ACTOR_ENV}={shlex.quote(actor)} {self.command}"

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Upstream's handler, but each session's process gets its own actor.

        Written here because upstream builds every ``AppService`` from the one
        ``self.command``; the body otherwise follows textual-serve 1.1.3.
        """
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        command = self.session_command(request)
        app_service: AppService | None = None
        try:
            await websocket.prepare(request)
            app_service = AppService(
                command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            await app_service.start(width, height)
            try:
                await self._process_messages(websocket, app_service)
            finally:
                await app_service.stop()
        except asyncio.CancelledError:
            await websocket.close()
        except Exception:
            logger.exception("web: session failed")
        finally:
            if app_service is not None:
                await app_service.stop()
                await _reap(app_service)
        return websocket


async def _reap(app_service: AppService) -> None:
    """Wait for the session's process to end (upstream never waits for it), killing it after 10 s.

    A TUI that outlives its browser session would keep steering rights nobody
    watches; reaping also closes the process's pipes.
    """
    process = getattr(app_service, "_process", None)
    if process is None:
        return
    try:
        await asyncio.wait_for(process.wait(), timeout=10)
    except TimeoutError:
        logger.warning("web: session process %s did not quit; killing it", process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Only this origin may be loaded or connected to; no framing; no referrer.

    A report (and the listing) gets :data:`~invest.tui.web_reports.REPORT_CSP`: nothing at all
    may be fetched, which a self-contained page never needs.
    """
    host = request.host
    if _is_report(request) and response.status < 300:
        response.headers["Content-Security-Policy"] = REPORT_CSP
    else:
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
            f"connect-src 'self' ws://{host} wss://{host}; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
