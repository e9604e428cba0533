"""The options every *-all task shares (--only, --exclude, --jobs, --fail-fast), added to its signature once
and handed to its body parsed, as `pick`. Imported when Invoke lists the tasks: nothing heavy here."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

HELP = {
    "only": "comma-separated services to include (default: all)",
    "exclude": "comma-separated services to leave out",
    "jobs": "how many independent services run at once (default: one per CPU)",
    "fail_fast": "stop starting services after the first failure (default: keep going)",
}
_DEFAULTS: dict[str, Any] = {"only": "", "exclude": "", "jobs": "", "fail_fast": False}


def selecting(*, fail_fast: bool = True) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a task body `(c, ..., pick)` the selection options; `fail_fast=False` leaves --fail-fast out."""
    names = [name for name in _DEFAULTS if fail_fast or name != "fail_fast"]

    def wrap(body: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(body)
        def task(*args: Any, **kwargs: Any) -> None:
            from .options import selection

            chosen = {name: kwargs.pop(name, _DEFAULTS[name]) for name in _DEFAULTS}
            body(*args, pick=selection(chosen["only"], chosen["exclude"], chosen["jobs"], chosen["fail_fast"]), **kwargs)

        own = [parameter for parameter in inspect.signature(body).parameters.values() if parameter.name != "pick"]
        added = [
            inspect.Parameter(
                name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=_DEFAULTS[name], annotation=type(_DEFAULTS[name]).__name__
            )
            for name in names
        ]
        # Before --lock-wait and --env, where they have always been: Invoke derives the short flags from this order.
        at = next((i for i, parameter in enumerate(own) if parameter.name in ("lock_wait", "env")), len(own))
        task.__signature__ = inspect.Signature([*own[:at], *added, *own[at:]])  # type: ignore[attr-defined]  # Invoke reads it
        return task

    return wrap
