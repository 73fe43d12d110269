"""Host trace runner throughput (steps per second), next to the Python model's, on the
same traces: the bundled examples, repeated. The runner gets them as one batch (one
process run, as a device would); the model runs them step by step in this process.
Three figures for the runner: the process alone (compact text in, compact text out),
and end to end through the device backend (compiling the batch and decoding the
observed outcomes in Python included).

    python benchmarks/device_speed.py [--repeat N]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import time
from pathlib import Path

from refinement_tests.backends import ModelBackend
from refinement_tests.device.backend import (
    BatchTrace,
    DeviceBackend,
    build_host_runner,
    compile_batch,
)
from refinement_tests.trace import read_trace

EXAMPLES = sorted((Path(__file__).parent.parent / "refinement_tests" / "traces" / "examples")
                  .glob("*.jsonl"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=20, help="copies of the examples (default 20)")
    args = ap.parse_args()
    traces = [read_trace(p) for p in EXAMPLES] * args.repeat
    batch = [BatchTrace(t.header, [(s.name, s.kind, s.args) for s in t.steps]) for t in traces]
    steps = sum(len(b.steps) for b in batch)
    binary = build_host_runner()
    text = compile_batch(batch)
    t0 = time.perf_counter()
    subprocess.run([str(binary)], input=text, capture_output=True, text=True, check=True)
    alone = time.perf_counter() - t0
    runner = DeviceBackend(str(binary))
    t0 = time.perf_counter()
    runner.run_batch(batch)
    host = time.perf_counter() - t0
    model = ModelBackend()
    t0 = time.perf_counter()
    for t in traces:
        model.start(t.header)
        for s in t.steps:
            model.step(s.name, s.kind, s.args)
    py = time.perf_counter() - t0
    print(f"{platform.machine()}, {len(traces)} traces, {steps} steps")
    print(f"host runner process (one batch, incl. start): {steps / alone:12,.0f} steps/s "
          f"({alone:.3f} s)")
    print(f"host runner via the device backend:           {steps / host:12,.0f} steps/s "
          f"({host:.3f} s)")
    print(f"Python model (in process):                    {steps / py:12,.0f} steps/s "
          f"({py:.3f} s)")


if __name__ == "__main__":
    main()
