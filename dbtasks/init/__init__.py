"""dbtasks init: reading a repository's Alembic services and writing migrations.yaml for them."""
