"""Where a run connects (the one parsed target), libpq, the migration lock, the embedded server, process owners."""
