"""Invoke tasks for this monorepo's Alembic migrations, generated from the migrations.yaml beside this file.

Copy this file next to another monorepo's migrations.yaml to drive that monorepo: `inv --list`.
"""

import sys
from pathlib import Path

try:
    from dbtasks.cli import build_namespace
except ModuleNotFoundError as error:  # `inv` of an interpreter without dbtasks: say which, and the fix
    sys.exit(
        f"tasks.py: {error.name} is not installed for {sys.executable}; activate the project's venv "
        "(. .venv/bin/activate) or install dbtasks into this interpreter "
        '(pip install /path/to/dbtasks, or pip install "git+<URL of the dbtasks repository>")'
    )

namespace = build_namespace(Path(__file__).resolve().with_name("migrations.yaml"))
