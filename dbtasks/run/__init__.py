"""Starting workers in a service's own interpreter: one process per operation, or forked from a warm server.

May import: errors, settings, explain, config, database, and worker/protocol (the one vocabulary with the worker).
"""
