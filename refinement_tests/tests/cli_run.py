"""Running the command line inside a test, as the console script would."""

from __future__ import annotations

import pytest

from vmospec.cli import main


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """main(argv), its exit status (usage errors exit via SystemExit), stdout, stderr."""
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err
