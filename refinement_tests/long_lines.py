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
from collections.abc import Iterator

from model.ranges import byte_runs

__all__ = ["LONG_LINE", "TooManyRuns", "find", "shrink_long_line"]

LONG_LINE = 1 << 20  # bytes: lines at least this long take this path
_LONG_STRING = 4096  # a data literal shorter than this is left to the JSON parser
_CHUNK = 1 << 20  # hex digits decoded at a time
_HEX = re.compile(rb"[0-9a-f]*")  # one class: scanned without backtracking
_QUOTE, _BACKSLASH = ord('"'), ord("\\")


class TooManyRuns(Exception):
    """The line's data has more runs than the budget; the text is the reason."""


Raw = bytes | mmap.mmap


def _release(raw: Raw, a: int, b: int) -> None:
    """Let go of the mapped pages of raw[a:b] (read again, they come back from the page
    cache), so a scan of a long line holds a slice of it, not all of it."""
    if isinstance(raw, mmap.mmap) and b > a:
        lo = a - a % mmap.PAGESIZE
        raw.madvise(mmap.MADV_DONTNEED, lo, b - lo)


def find(raw: Raw, sub: bytes, start: int, end: int) -> int:
    """raw.find(sub, start, end) for a one-byte sub, a slice at a time, letting go of
    each slice searched in vain."""
    for lo in range(start, end, _CHUNK):
        hi = min(end, lo + _CHUNK)
        at = raw.find(sub, lo, hi)
        if at >= 0:
            return at
        _release(raw, lo, hi)
    return -1


def _depth_change(raw: Raw, a: int, b: int) -> int:
    # Outside strings, brackets are structure; counted in C, a gap at a time.
    gap = raw[a:b]
    return gap.count(b"{") + gap.count(b"[") - gap.count(b"}") - gap.count(b"]")


def _string_end(raw: Raw, q: int, end: int) -> int:
    """The index after the closing quote of the string opening at q, or -1."""
    e = q + 1
    while True:
        e = find(raw, b'"', e, end)
        if e < 0:
            return -1
        k = e - 1
        while raw[k] == _BACKSLASH:
            k -= 1
        if (e - 1 - k) % 2 == 0:  # an even number of backslashes: not escaped
            return e + 1
        e += 1


def _hex_pieces(raw: Raw, a: int, b: int) -> Iterator[tuple[int, int]]:
    """The runs of the bytes the hex raw[a:b] spells, decoded a slice at a time (a run
    may come in several pieces, one per slice)."""
    for lo in range(a, b, _CHUNK):
        hi = min(b, lo + _CHUNK)
        chunk = binascii.unhexlify(raw[lo:hi])
        _release(raw, lo, hi)
        yield from byte_runs(chunk)


def _is_hex(raw: Raw, a: int, b: int) -> bool:
    for lo in range(a, b, _CHUNK):
        hi = min(b, lo + _CHUNK)
        if not _HEX.fullmatch(raw, lo, hi):
            return False
        _release(raw, lo, hi)
    return True


def _hex_runs(raw: Raw, a: int, b: int, budget: int) -> list[list[int]]:
    # Counted first, holding nothing: data past the budget is refused before its runs
    # are built (they are what costs memory).
    count, last = 0, -1
    for byte, _ in _hex_pieces(raw, a, b):
        count += byte != last
        last = byte
        if count > budget:
            raise TooManyRuns(f"data: more than {budget:,} runs of bytes")
    runs: list[list[int]] = []
    for byte, n in _hex_pieces(raw, a, b):
        if runs and runs[-1][0] == byte:
            runs[-1][1] += n
        else:
            runs.append([byte, n])
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
            if (e - q) % 2 == 0 and _is_hex(raw, q + 1, e - 1):
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
