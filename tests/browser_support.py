"""Open a report page in a real headless chromium, offline, and say what a person would see.

:func:`render` starts Debian's chromium (``/usr/bin/chromium``) with no network at all (every
host name resolves to nothing and every request goes to a proxy on a closed port), opens
``file://`` + the page, waits for its load event and reports:

* the ``<figure class="chart" data-chart="NAME">`` charts and those that did not render
  (no ``<svg>``, a box of zero size, or an svg with nothing drawn in it);
* the console errors (``console.error``, uncaught exceptions, the browser's own error log,
  such as "Failed to load resource");
* every request the page made that was not for the file itself, and those that failed;
* a full-page PNG screenshot.

It speaks the DevTools protocol itself over ``--remote-debugging-pipe`` (NUL-terminated JSON
on file descriptors 3 and 4) instead of using Playwright: the handful of commands below are
the protocol's stable core, and the client is a page of stdlib code, where Playwright's wheel
adds 168 MB (a Node.js runtime) to the venv and is only tested against its own pinned
chromium build, not against whichever version Debian's security updates ship.

:func:`external_urls` is the static half: it parses the HTML and lists every URL in it that
would leave the box.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: Flags that keep the browser off the network and quiet: the proxy on port 9 (discard,
#: nothing listens) refuses every http(s) request, the resolver answers nothing, and the
#: background services (updates, sync, metrics, safe browsing) are off.
OFFLINE_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # CI runs as root, where chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # a container's /dev/shm is often too small for a long page
    "--disable-breakpad",  # no crash reporter writing outside the temporary profile
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--safebrowsing-disable-auto-update",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)
#: The viewport a report is laid out in: a laptop screen.
VIEWPORT = (1280, 900)
#: URL schemes that stay on the box.
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")

#: For each chart: its name, whether an svg is in it, its box and the box of what it draws
#: (``getBBox`` of the root svg is that of its content: 0x0 for an empty svg, which HTML
#: still lays out at its default 300x150).
_CHARTS_JS = """
Array.from(document.querySelectorAll('figure.chart')).map((figure) => {
  const svg = figure.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  let drawn = {width: 0, height: 0};
  if (svg) { try { drawn = svg.getBBox(); } catch (e) { /* not rendered */ } }
  return {name: figure.dataset.chart || '', svg: !!svg, width: box.width, height: box.height,
          drawnWidth: drawn.width, drawnHeight: drawn.height};
})
"""


class BrowserError(RuntimeError):
    """Chromium could not be started, or did not answer, or could not open the page."""


@dataclass(frozen=True)
class BrowserResult:
    """What a headless chromium saw on a page (see the module's docstring)."""

    url: str
    charts: tuple[str, ...]
    unrendered: tuple[str, ...]
    console_errors: tuple[str, ...]
    requests: tuple[str, ...]
    failed_requests: tuple[str, ...]
    screenshot: Path

    @property
    def off_box_requests(self) -> tuple[str, ...]:
        """The requests for anything that is not on this disk (http, https, ws...)."""
        return tuple(u for u in self.requests if not u.startswith(LOCAL_SCHEMES))

    def problems(self) -> list[str]:
        """One line per thing that is wrong with the page; empty when it is fine."""
        lines = [f"chart did not render: {name}" for name in self.unrendered]
        lines += [f"console error: {text}" for text in self.console_errors]
        lines += [f"request off the box: {url}" for url in self.off_box_requests]
        lines += [f"failed request: {line}" for line in self.failed_requests]
        return lines


def chromium() -> str | None:
    """The chromium executable, or None when it is not installed."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    debian = Path("/usr/bin/chromium")  # Debian's, when /usr/bin is not on PATH
    return found or (str(debian) if debian.exists() else None)


def artifact_dir() -> Path:
    """Where tests save what a person may want to look at: ``$INVEST_TEST_ARTIFACTS``,
    or ``build/test-artifacts/`` in the checkout (.ci/run prints it)."""
    path = Path(os.environ.get("INVEST_TEST_ARTIFACTS") or ROOT / "build" / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def render(
    path: Path, screenshot: Path, *, timeout: float = 60.0, max_height: int | None = None
) -> BrowserResult:
    """Open ``path`` from disk in headless chromium with no network; see :class:`BrowserResult`.

    ``screenshot`` receives a full-page PNG, or its top ``max_height`` CSS pixels. Raises :class:`BrowserError` when chromium is
    missing, cannot open the file, or does not answer within ``timeout`` seconds.
    """
    exe = chromium()
    if exe is None:
        raise BrowserError("chromium is not installed: apt-get install chromium (.ci/run does)")
    path = Path(path).resolve()
    if not path.is_file():
        raise BrowserError(f"no page to open at {path}: write the report first")
    deadline = time.monotonic() + timeout
    with (
        tempfile.TemporaryDirectory(prefix="invest-chromium-", ignore_cleanup_errors=True) as tmp,
        _Browser(exe, Path(tmp), deadline) as browser,
    ):
        return browser.open(path.as_uri(), Path(screenshot), max_height)


class _Browser:
    """One chromium process and its DevTools pipe; a context manager that always ends it."""

    def __init__(self, exe: str, profile: Path, deadline: float) -> None:
        self.deadline = deadline
        self.events: list[dict[str, Any]] = []
        self._buffer = b""
        self._next_id = 0
        # Our ends of the two pipes, and the child's, moved above fd 10 so that the child
        # can put its ends on 3 and 4 (where --remote-debugging-pipe expects them) without
        # closing one with the other.
        child_in, self._write = os.pipe()
        self._read, child_out = os.pipe()
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (child_in, child_out)]
        for fd in (child_in, child_out):
            os.close(fd)

        def pipes_on_3_and_4() -> None:
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self._log = (profile / "chromium.log").open("wb")
        width, height = VIEWPORT
        args = [exe, *OFFLINE_FLAGS, f"--user-data-dir={profile / 'profile'}"]
        args.append(f"--window-size={width},{height}")
        try:
            self.process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                pass_fds=(3, 4),
                preexec_fn=pipes_on_3_and_4,
                start_new_session=True,  # its own process group: ended whole in close()
            )
        except OSError as error:
            for fd in (*high, self._read, self._write):
                os.close(fd)
            self._log.close()
            raise BrowserError(f"could not start {exe}: {error}") from error
        for fd in high:
            os.close(fd)
        self._log_path = profile / "chromium.log"

    def __enter__(self) -> _Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Ask chromium to quit, then end its process group if it has not."""
        if self.process.poll() is None:
            try:
                self._send("Browser.close", {})
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):  # already closed by an earlier close()
                os.close(fd)
        self._log.close()

    # --- the protocol ---------------------------------------------------------------------

    def _send(self, method: str, params: dict[str, Any], session: str | None = None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _receive(self) -> dict[str, Any]:
        """The next message from chromium; events are also kept in ``self.events``."""
        while b"\0" not in self._buffer:
            left = self.deadline - time.monotonic()
            ready, _, _ = select.select([self._read], [], [], max(left, 0))
            if not ready:
                raise BrowserError(f"chromium did not answer in time; its log: {self._tail()}")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium closed its DevTools pipe; its log: {self._tail()}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        if "method" in message:
            self.events.append(message)
        return message

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and return its result (events that come first are kept)."""
        sent = self._send(method, params or {}, session)
        while True:
            message = self._receive()
            if message.get("id") == sent:
                if "error" in message:
                    raise BrowserError(f"{method} failed: {message['error'].get('message')}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def wait_for(self, method: str, session: str, since: int) -> int:
        """Read messages until an event ``method`` of ``session`` is among the events from
        index ``since`` on (it may have come while a command was awaited); return the index
        just after it."""
        while True:
            for index in range(since, len(self.events)):
                event = self.events[index]
                if event["method"] == method and event.get("sessionId") == session:
                    return index + 1
            since = len(self.events)
            self._receive()

    def _evaluate(self, expression: str, session: str) -> Any:
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"the page check failed: {result['exceptionDetails']['text']}")
        return result["result"]["value"]

    def _tail(self) -> str:
        self._log.flush()
        text = self._log_path.read_text(encoding="utf-8", errors="replace")
        return text[-2000:].strip() or "(empty)"

    # --- the page -------------------------------------------------------------------------

    def open(self, url: str, screenshot: Path, max_height: int | None = None) -> BrowserResult:
        """Load ``url`` in a new tab with every event recorded, check it, screenshot it."""
        target = self.call("Target.createTarget", {"url": "about:blank"})
        attached = self.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        session: str = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", {}, session)
        start = len(self.events)
        navigated = self.call("Page.navigate", {"url": url}, session)
        if navigated.get("errorText"):
            raise BrowserError(f"chromium could not open {url}: {navigated['errorText']}")
        # A late load event of the blank tab may come first: wait for the one of the page.
        seen = start
        while True:
            seen = self.wait_for("Page.loadEventFired", session, seen)
            href, state = self._evaluate("[location.href, document.readyState]", session)
            if href != "about:blank" and state == "complete":
                break
        charts: list[dict[str, Any]] = self._evaluate(_CHARTS_JS, session)
        self._screenshot(session, screenshot, max_height)
        events = [e for e in self.events[start:] if e.get("sessionId") == session]
        return BrowserResult(
            url=url,
            charts=tuple(c["name"] for c in charts),
            unrendered=tuple(_why_unrendered(c) for c in charts if _why_unrendered(c)),
            console_errors=tuple(_console_errors(events)),
            requests=tuple(_requests(events, url)),
            failed_requests=tuple(_failed_requests(events)),
            screenshot=screenshot,
        )

    def _screenshot(self, session: str, screenshot: Path, max_height: int | None) -> None:
        """A PNG of the whole page (or its top ``max_height``) at the viewport's width."""
        size = self.call("Page.getLayoutMetrics", {}, session)["cssContentSize"]
        height = size["height"] if max_height is None else min(size["height"], max_height)
        clip = {"x": 0, "y": 0, "width": size["width"], "height": height, "scale": 1}
        shot = self.call(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
            session,
        )
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))


def _why_unrendered(chart: dict[str, Any]) -> str:
    """``NAME (reason)`` for a chart that a person would not see; empty when it rendered."""
    name = chart["name"] or "(no data-chart name)"
    if not chart["svg"]:
        return f"{name} (no svg)"
    if chart["width"] <= 0 or chart["height"] <= 0:
        return f"{name} (svg box {chart['width']:g}x{chart['height']:g})"
    if chart["drawnWidth"] <= 0 or chart["drawnHeight"] <= 0:
        return f"{name} (nothing drawn in the svg)"
    return ""


def _console_errors(events: list[dict[str, Any]]) -> list[str]:
    """console.error and console.assert, uncaught exceptions, and the browser's error log."""
    errors = []
    for event in events:
        params = event["params"]
        if event["method"] == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            args = params.get("args", [])
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
        elif event["method"] == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(details.get("exception", {}).get("description") or details["text"])
        elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            errors.append(f"{entry['text']} ({entry.get('url', '')})".replace(" ()", ""))
    return errors


def _requests(events: list[dict[str, Any]], page: str) -> list[str]:
    """Every URL the page asked for, other than the page itself, in order."""
    urls = [
        e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
    ]
    return [u for u in urls if u != page]


def _failed_requests(events: list[dict[str, Any]]) -> list[str]:
    """``URL: error`` for each request that failed."""
    urls = {
        e["params"]["requestId"]: e["params"]["request"]["url"]
        for e in events
        if e["method"] == "Network.requestWillBeSent"
    }
    return [
        f"{urls.get(e['params']['requestId'], '?')}: {e['params']['errorText']}"
        for e in events
        if e["method"] == "Network.loadingFailed"
    ]


# --- the static check ------------------------------------------------------------------------

#: Attributes whose value is a URL the browser fetches or navigates to.
_URL_ATTRIBUTES = {"src", "href", "action", "poster", "data", "formaction", "xlink:href"}
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.IGNORECASE)


class _UrlCollector(HTMLParser):
    """Collects the URLs in attributes, inline styles and <style> blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        for name, value in attrs:
            if value is None:
                continue
            if name == "srcset":  # "a.png 1x, b.png 2x"
                self.urls += [part.split()[0] for part in value.split(",") if part.split()]
            elif name in _URL_ATTRIBUTES:
                self.urls.append(value.strip())
            elif name == "style":
                self._css(value)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in_style = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css(data)

    def _css(self, text: str) -> None:
        self.urls += [a or b for a, b in _CSS_URL.findall(text)]


def external_urls(html: str) -> list[str]:
    """Every URL in the page that points outside it (anything but a ``#`` fragment or data:).

    Absolute ``scheme://`` and protocol-relative ``//host`` URLs leave the box; a relative
    one (``chart.png``) or a ``file:`` one is listed too, since a report is one file that
    needs nothing else.
    """
    collector = _UrlCollector()
    collector.feed(html)
    collector.close()
    return [u for u in collector.urls if not u.startswith(("#", "data:"))]
