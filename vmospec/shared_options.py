"""Options several subcommands share, each defined once."""

from __future__ import annotations

from typing import Any

from spec.profiles import PROFILES


def profile_option(p: Any, what: str) -> None:
    """--profile with a zircon-2025 default; `what` says what the profile decides."""
    p.add_argument("--profile", default="zircon-2025", choices=sorted(PROFILES),
                   help=f"the behaviour {what} (default: zircon-2025)")


def json_option(p: Any, shape: str = "one JSON object") -> None:
    p.add_argument("--json", action="store_true", help=f"{shape} on stdout")
