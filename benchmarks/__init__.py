"""Side-by-side benchmark of dbtasks against the seeds' loop of `alembic` commands: `python -m benchmarks --help`."""
