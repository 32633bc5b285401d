"""A small equity-curve PNG, drawn with the standard library only (zlib + struct).

matplotlib is not a dependency of the appliance. The chart has no text: the
message it goes with carries the numbers. Several series are rebased to 100 at
their first point so that accounts of different sizes share one chart.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Mapping, Sequence

__all__ = ["PALETTE", "equity_png", "png_bytes", "sparkline"]

RGB = tuple[int, int, int]
PALETTE: tuple[RGB, ...] = (
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (255, 127, 14),
    (148, 103, 189),
    (23, 190, 207),
)
_BACKGROUND: RGB = (255, 255, 255)
_GRID: RGB = (225, 225, 225)
_FRAME: RGB = (150, 150, 150)
_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 24) -> str:
    """A one-line text chart (``▁▂▄▆█``) of the last ``width`` finite values."""
    pts = [v for v in values if math.isfinite(v)][-width:]
    if not pts:
        return ""
    lo, hi = min(pts), max(pts)
    span = hi - lo or 1.0
    return "".join(_BARS[round((v - lo) / span * (len(_BARS) - 1))] for v in pts)


def png_bytes(width: int, height: int, rgb: bytes | bytearray) -> bytes:
    """Encode ``width * height`` RGB pixels (row by row) as a PNG file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    stride = width * 3
    raw = b"".join(b"\x00" + bytes(rgb[y * stride : (y + 1) * stride]) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


class _Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(_BACKGROUND) * (width * height))

    def dot(self, x: int, y: int, color: RGB) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.pixels[i : i + 3] = bytes(color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: RGB, thick: int = 1) -> None:
        # Bresenham; a thick line repeats the dot below and to the right.
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            for k in range(thick):
                self.dot(x0, y0 + k, color)
                self.dot(x0 + k, y0, color)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy


def _rebased(series: Mapping[str, Sequence[float]]) -> list[list[float]]:
    lines = [[float(v) for v in values if math.isfinite(v)] for values in series.values()]
    lines = [pts for pts in lines if len(pts) >= 2]
    if len(lines) > 1:  # several accounts: compare shapes, from 100 each
        lines = [[v / pts[0] * 100 for v in pts] if pts[0] else pts for pts in lines]
    return lines


def equity_png(
    series: Mapping[str, Sequence[float]], width: int = 640, height: int = 320
) -> bytes | None:
    """A line chart of one or more equity series (colours in :data:`PALETTE` order).

    Returns None when no series has two finite points.
    """
    lines = _rebased(series)
    if not lines:
        return None
    canvas = _Canvas(width, height)
    margin = 12
    left, right, top, bottom = margin, width - margin - 1, margin, height - margin - 1
    for k in range(1, 4):  # horizontal grid lines
        y = top + (bottom - top) * k // 4
        canvas.line(left, y, right, y, _GRID)
    for x0, y0, x1, y1 in (
        (left, top, right, top),
        (left, bottom, right, bottom),
        (left, top, left, bottom),
        (right, top, right, bottom),
    ):
        canvas.line(x0, y0, x1, y1, _FRAME)
    lo = min(min(pts) for pts in lines)
    hi = max(max(pts) for pts in lines)
    span = (hi - lo) or abs(hi) or 1.0
    inner_top, inner_bottom = top + 4, bottom - 4

    def xy(i: int, n: int, v: float) -> tuple[int, int]:
        x = left + 2 + round(i * (right - left - 4) / (n - 1))
        y = inner_bottom - round((v - lo) / span * (inner_bottom - inner_top))
        return x, y

    for j, pts in enumerate(lines):
        color = PALETTE[j % len(PALETTE)]
        prev = xy(0, len(pts), pts[0])
        for i in range(1, len(pts)):
            cur = xy(i, len(pts), pts[i])
            canvas.line(*prev, *cur, color, thick=2)
            prev = cur
    return png_bytes(width, height, canvas.pixels)
