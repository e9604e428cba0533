"""The same services on many databases: the members, running over them, the report, shards."""
