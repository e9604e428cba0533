"""Reading a service's revision files without running them, and the cache of what was read.

May import: settings, worker/revisions and worker/sources (the one reader of revision and down_revision).
"""
