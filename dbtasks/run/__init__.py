"""Starting workers in a service's own interpreter: one process per operation, or forked from a warm server."""
