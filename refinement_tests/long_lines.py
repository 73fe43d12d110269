"""Very long trace lines, read without holding their hex data twice.

A step's `data` may be hex of any length: 100 MB of hex is one 100 MB line. Handing such
a line to the JSON parser would hold it as bytes, as text and as the parsed string at
once, then as bytes again, and its runs one tuple per byte. Instead, a long line is
scanned in place for its string literals; one that is the value of a top-level `data`
key and is lowercase hex is turned into its run list (the format's other spelling of
the same bytes), a slice at a time, and only the rest of the line, now short, goes to
the JSON parser. Everything else about the line is checked as for any other line.
"""

from __future__ import annotations

import binascii
import json
import mmap
import re

from model.ranges import byte_runs

__all__ = ["LONG_LINE", "TooManyRuns", "shrink_long_line"]

LONG_LINE = 1 << 20  # bytes: lines at least this long take this path
_LONG_STRING = 4096  # a data literal shorter than this is left to the JSON parser
_CHUNK = 1 << 20  # hex digits decoded at a time
_HEX = re.compile(rb"[0-9a-f]*")  # one class: scanned without backtracking
_QUOTE, _BACKSLASH = ord('"'), ord("\\")


class TooManyRuns(Exception):
    """The line's data has more runs than the budget; the text is the reason."""


Raw = bytes | mmap.mmap


def _depth_change(raw: Raw, a: int, b: int) -> int:
    # Outside strings, brackets are structure; counted in C, a gap at a time.
    gap = raw[a:b]
    return gap.count(b"{") + gap.count(b"[") - gap.count(b"}") - gap.count(b"]")


def _string_end(raw: Raw, q: int, end: int) -> int:
    """The index after the closing quote of the string opening at q, or -1."""
    e = q + 1
    while True:
        e = raw.find(b'"', e, end)
        if e < 0:
            return -1
        k = e - 1
        while raw[k] == _BACKSLASH:
            k -= 1
        if (e - 1 - k) % 2 == 0:  # an even number of backslashes: not escaped
            return e + 1
        e += 1


def _hex_runs(raw: Raw, a: int, b: int, budget: int) -> list[list[int]]:
    runs: list[list[int]] = []
    for lo in range(a, b, _CHUNK):
        chunk = binascii.unhexlify(raw[lo : min(b, lo + _CHUNK)])
        for byte, count in byte_runs(chunk):
            if runs and runs[-1][0] == byte:
                runs[-1][1] += count
                continue
            if len(runs) >= budget:
                raise TooManyRuns(f"data: more than {budget:,} runs of bytes")
            runs.append([byte, count])
    return runs


def shrink_long_line(raw: Raw, start: int, end: int, budget: int) -> tuple[str, int]:
    """Line raw[start:end] as text, its top-level hex `data` as a run list, and how many
    runs that added. UnicodeDecodeError (positions relative to `start`) for text that is
    not UTF-8; TooManyRuns past `budget` runs. A line this scan cannot follow (an
    unterminated string) is returned whole, for the JSON parser to report."""
    pieces: list[str] = []
    pos = kept = start
    depth = 0
    prev: tuple[int, int] | None = None  # the last string literal at depth 1
    added = 0
    while True:
        q = raw.find(b'"', pos, end)
        if q < 0:
            break
        depth += _depth_change(raw, pos, q)
        e = _string_end(raw, q, end)
        if e < 0:
            break
        is_data = (
            depth == 1
            and prev is not None
            and prev[1] - prev[0] == 6
            and raw[prev[0] : prev[1]] == b'"data"'
            and raw[prev[1] : q].strip() == b":"
            and e - q - 2 >= _LONG_STRING
        )
        if is_data:
            pieces.append(_text(raw, kept, q, start))
            if _HEX.fullmatch(raw, q + 1, e - 1) and (e - q) % 2 == 0:
                runs = _hex_runs(raw, q + 1, e - 1, budget - added)
                added += len(runs)
                pieces.append(json.dumps(runs))
            else:  # kept short and still not hex: the reader reports it as usual
                pieces.append(json.dumps(raw[q + 1 : q + 37].decode("ascii", "replace") + "..."))
            kept = e
        prev = (q, e) if depth == 1 else None
        pos = e
    pieces.append(_text(raw, kept, end, start))
    return "".join(pieces), added


def _text(raw: Raw, a: int, b: int, line_start: int) -> str:
    try:
        return raw[a:b].decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnicodeDecodeError(e.encoding, e.object, e.start + a - line_start,
                                 e.end + a - line_start, e.reason) from None
