"""Reading a service's revision files without running them: the cache of what was read (graph_cache) and the
checks `dbtasks check-files` makes of them (checks).

May import: settings, errors, config.project, and worker/revisions, worker/sources and worker/checksums
(worker/revisions `assignments` is the one reader of revision and down_revision).
"""
