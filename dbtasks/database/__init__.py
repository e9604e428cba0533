"""Where a run connects (the one parsed target), libpq, the migration lock, the embedded server, process owners.

May import: errors, settings, explain, config/project, worker/libpq; never the verbs, fleets, doctor or the CLI.
"""
