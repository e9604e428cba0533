"""dbtasks init: reading a repository's Alembic services and writing migrations.yaml for them.

May import: config (to check what it writes), worker/revisions; never the CLI: cli/init_command.py prints.
"""
