"""Diagnosing a setup: the URL, the server, the services, and create_all guards."""
