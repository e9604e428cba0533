"""Modules of this package loaded on first use, so that listing or completing tasks imports almost nothing.

A lazy module must first be used from one thread (the task body), never first inside worker threads.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy(*names: str) -> tuple[ModuleType, ...]:
    """dbtasks.<name> for each name, executed only when one of its attributes is first read."""
    modules = []
    for name in names:
        qualified = f"{__package__}.{name}"
        if qualified in sys.modules:
            modules.append(sys.modules[qualified])
            continue
        spec = importlib.util.find_spec(qualified)
        assert spec is not None and spec.loader is not None
        loader = importlib.util.LazyLoader(spec.loader)
        spec.loader = loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        loader.exec_module(module)
        modules.append(module)
    return tuple(modules)
