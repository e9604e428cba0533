"""Invoke tasks for this monorepo's Alembic migrations, generated from the migrations.yaml beside this file.

Copy this file next to another monorepo's migrations.yaml to drive that monorepo: `inv --list`.
"""

from pathlib import Path

from dbtasks.cli import build_namespace

namespace = build_namespace(Path(__file__).resolve().with_name("migrations.yaml"))
