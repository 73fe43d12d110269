"""Benchmark: what hostile or merely huge inputs cost (issue 15), as a user runs them.

Each case is one `vmospec` command in a fresh process, timed on the wall clock, with the
process's peak resident memory (ru_maxrss from wait4, so it covers that run only):

  * 100 MB of uniform hex `data` (a write and a read back of 50 MiB): must check in
    seconds and under 200 MB;
  * 100 MB of alternating-byte hex (one run per byte): refused past the run budget, and
    how much it costs to find out;
  * a 2^40-byte read of a pager-backed VMO, its data left out, then recorded wrongly: must
    check in seconds and under 200 MB, the divergence in a few short lines;
  * a 4-line trace committing 4 GiB at 1 MiB pages on the host runner: NO_MEMORY past the
    1 GiB budget.

Usage: python benchmarks/hostile_inputs.py [--mb N]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = '{"vmo_trace": 1, "page_size": 4096}\n'


def write_hex(path: Path, unit: str, nbytes: int) -> None:
    # In slices: a parent holding 100 MB would be counted in its children's peak (fork).
    piece = unit * ((1 << 20) // len(unit))
    with path.open("w") as f:
        f.write(HEADER)
        f.write(f'{{"call": "vmo_create", "size": {nbytes}, "options": [], "out": "a"}}\n')
        f.write('{"call": "vmo_write", "vmo": "a", "offset": 0, "data": "')
        for _ in range(2 * nbytes // len(piece)):
            f.write(piece)
        f.write('"}\n')


def huge_read(path: Path, wrong: bool) -> None:
    size = 1 << 40
    data = f', "data": [[1, 4096], [0, {size - 4096}]]' if wrong else ""
    path.write_text(
        HEADER + '{"call": "pager_create", "out": "p"}\n'
        f'{{"call": "pager_create_vmo", "pager": "p", "options": [], "size": {size}, '
        '"out": "v"}\n'
        f'{{"call": "vmo_read", "vmo": "v", "offset": 0, "length": {size}{data}}}\n')


def big_commit(path: Path) -> None:
    path.write_text(
        '{"vmo_trace": 1, "page_size": 1048576}\n'
        '{"call": "vmo_create", "size": 4294967296, "options": [], "out": "a"}\n'
        '{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_COMMIT", "offset": 0, '
        '"size": 4294967296}\n'
        '{"call": "vmo_info", "vmo": "a"}\n')


def timed(argv: list[str]) -> tuple[float, float, int, str, int]:
    """Seconds, peak MB of the process, its exit status, last line, longest line."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "vmospec.cli", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read() if proc.stdout else b""
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = out.decode(errors="replace").strip().splitlines() or [""]
    longest = max(len(line) for line in lines)
    return seconds, usage.ru_maxrss / 1024, proc.returncode, lines[-1][:100], longest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=100, help="megabytes of hex (default 100)")
    args = ap.parse_args()
    nbytes = args.mb * (1 << 20) // 2
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, python "
          f"{platform.python_version()}; load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_hex(d / "uniform.jsonl", "ab", nbytes)
        write_hex(d / "alternating.jsonl", "0001", nbytes)
        big_commit(d / "commit.jsonl")
        huge_read(d / "read.jsonl", wrong=False)
        huge_read(d / "wrong.jsonl", wrong=True)
        cases = [
            (f"{args.mb} MB uniform hex", ["check", str(d / "uniform.jsonl")]),
            (f"{args.mb} MB alternating hex", ["check", str(d / "alternating.jsonl")]),
            ("2^40-byte pager read", ["check", str(d / "read.jsonl")]),
            ("2^40-byte pager read, wrong data", ["check", str(d / "wrong.jsonl")]),
            ("4 GiB commit at 1 MiB pages", ["run", str(d / "commit.jsonl"), "--backend",
                                             "device", "--out", str(d / "observed.jsonl")]),
        ]
        print(f"{'case':32} {'seconds':>8} {'peak MB':>8} {'exit':>4}  last line")
        for name, argv in cases:
            seconds, peak, code, last, longest = timed(argv)
            print(f"{name:32} {seconds:8.2f} {peak:8.0f} {code:4}  {last}")
            if "wrong" in name:
                print(f"{'':32} longest line of its output: {longest} characters")
        observed = (d / "observed.jsonl").read_text().splitlines()
        print("the runner's answer to the 4 GiB commit:", observed[2][-40:])


if __name__ == "__main__":
    main()
