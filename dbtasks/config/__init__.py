"""migrations.yaml -> a frozen Project: loading, the keys, fleets, lint settings, the cache, the size bounds."""
