"""Find the JSON inside a model's answer.

Models wrap JSON in ``<think>`` blocks, Markdown fences and prose, add trailing
commas, or stop half way. These functions never raise: they return the first
JSON object (or array) they can read, or None.
"""

from __future__ import annotations

import json
import re
from typing import Any

_THINK_BLOCK = re.compile(r"<think(?:ing)?>.*?</think(?:ing)?>", re.IGNORECASE | re.DOTALL)
_THINK_CLOSE = re.compile(r"</think(?:ing)?>", re.IGNORECASE)
_THINK_OPEN = re.compile(r"<think(?:ing)?>", re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*(?:json|JSON|javascript|js)?[ \t]*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
#: Cap on candidate openings tried, so garbage with many braces stays cheap.
_MAX_CANDIDATES = 64
_MAX_CHARS = 200_000


def strip_think(text: str) -> str:
    """Remove ``<think>...</think>`` reasoning; an unclosed block runs to the end."""
    text = _THINK_BLOCK.sub("", text)
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:  # the server dropped the opening tag
        text = text[closes[-1].end() :]
    opened = _THINK_OPEN.search(text)
    if opened:
        text = text[: opened.start()]
    return text.strip()


def extract_json(text: object) -> Any | None:
    """Return the first JSON object or array in ``text``, or None.

    Tries, in order: the whole text, each fenced block, then every balanced
    ``{...}`` or ``[...]`` from left to right (a second try drops trailing commas).
    """
    if not isinstance(text, str):
        return None
    body = strip_think(text[:_MAX_CHARS])
    found = _loads(body)
    if found is not None:
        return found
    for match in _FENCE.finditer(body):
        found = _loads(match.group(1))
        if found is not None:
            return found
    return _first_balanced(body)


def _loads(text: str) -> Any | None:
    text = text.strip()
    if not text or text[0] not in "{[":
        return None
    for candidate in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            value = json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict | list):
            return value
    return None


def _first_balanced(text: str) -> Any | None:
    tried = 0
    start = _next_open(text, 0)
    while start != -1 and tried < _MAX_CANDIDATES:
        tried += 1
        end = _balanced_end(text, start)
        if end != -1:
            found = _loads(text[start : end + 1])
            if found is not None:
                return found
        start = _next_open(text, start + 1)
    return None


def _next_open(text: str, pos: int) -> int:
    brace, bracket = text.find("{", pos), text.find("[", pos)
    if brace == -1 or bracket == -1:
        return max(brace, bracket)
    return min(brace, bracket)


def _balanced_end(text: str, start: int) -> int:
    """Index of the bracket closing the one at ``start``, ignoring brackets in strings."""
    stack: list[str] = []
    in_string = escaped = False
    pairs = {"{": "}", "[": "]"}
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in pairs:
            stack.append(pairs[ch])
        elif ch in "}]":
            if not stack or stack.pop() != ch:
                return -1
            if not stack:
                return i
    return -1
