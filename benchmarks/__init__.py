"""Side-by-side benchmark of dbtasks against the original loop of `alembic` commands: `python -m benchmarks --help`."""
