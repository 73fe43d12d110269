"""Benchmark: what hostile or merely huge inputs cost (issue 15), as a user runs them.

Each case is one `vmospec` command in a fresh process, timed on the wall clock, with the
process's peak resident memory (ru_maxrss from wait4, so it covers that run only):

  * 100 MB of uniform hex `data` (a write and a read back of 50 MiB): must check in
    seconds and under 200 MB;
  * 100 MB of alternating-byte hex (one run per byte): refused past the run budget, and
    how much it costs to find out;
  * a 4-line trace committing 4 GiB at 1 MiB pages on the host runner: NO_MEMORY past the
    1 GiB budget (the runner's own peak is its child's, reported as the children's).

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


def big_commit(path: Path) -> None:
    path.write_text(
        '{"vmo_trace": 1, "page_size": 1048576}\n'
        '{"call": "vmo_create", "size": 4294967296, "options": [], "out": "a"}\n'
        '{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_COMMIT", "offset": 0, '
        '"size": 4294967296}\n'
        '{"call": "vmo_info", "vmo": "a"}\n')


def timed(argv: list[str]) -> tuple[float, float, int, str]:
    """Seconds, peak MB of the process and of its children, its exit status, last line."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "vmospec.cli", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read() if proc.stdout else b""
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    last = out.decode(errors="replace").strip().splitlines()[-1:] or [""]
    return seconds, usage.ru_maxrss / 1024, proc.returncode, last[0][:100]


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
        cases = [
            (f"{args.mb} MB uniform hex", ["check", str(d / "uniform.jsonl")]),
            (f"{args.mb} MB alternating hex", ["check", str(d / "alternating.jsonl")]),
            ("4 GiB commit at 1 MiB pages", ["run", str(d / "commit.jsonl"), "--backend",
                                             "device", "--out", str(d / "observed.jsonl")]),
        ]
        print(f"{'case':32} {'seconds':>8} {'peak MB':>8} {'exit':>4}  last line")
        for name, argv in cases:
            seconds, peak, code, last = timed(argv)
            print(f"{name:32} {seconds:8.2f} {peak:8.0f} {code:4}  {last}")
        observed = (d / "observed.jsonl").read_text().splitlines()
        print("the runner's answer to the 4 GiB commit:", observed[2][-40:])


if __name__ == "__main__":
    main()
