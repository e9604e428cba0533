"""The same services on many databases: the members, running over them, the report, shards.

May import: the core (session, orchestrate, verbs_all, verify), config, database; never the CLI.
"""
