"""The options every *-all task shares (--only, --exclude, --jobs, --fail-fast): their help and defaults. registry.py
adds them to a task that takes the selection and hands its body the parsed `pick`. Nothing heavy here."""

from __future__ import annotations

from typing import Any

HELP = {
    "only": "comma-separated services to include (default: all)",
    "exclude": "comma-separated services to leave out",
    "jobs": "how many independent services run at once (default: one per CPU)",
    "fail_fast": "stop starting services after the first failure (default: keep going)",
}
DEFAULTS: dict[str, Any] = {"only": "", "exclude": "", "jobs": "", "fail_fast": False}
