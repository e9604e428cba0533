"""Diagnosing a setup: the URL, the server, the services, and create_all guards.

May import: the core (session, run), config, database, files; never the CLI. Returns findings; it prints nothing.
"""
