"""Lock-taking DDL in a revision's offline SQL (squawk), the rules, and the source lines they point at.

May import: the core (session, verbs_all, orchestrate), config; never the CLI. Returns findings; it prints nothing.
"""
