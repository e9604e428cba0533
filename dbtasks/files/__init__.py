"""Reading a service's revision files without running them, and the cache of what was read."""
