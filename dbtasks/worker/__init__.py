"""The worker: runs one Alembic operation for one service, in that service's own interpreter and folder.

This package runs where dbtasks is not installed, so it uses only the standard library and Alembic
(with the service's SQLAlchemy and driver), keeps to Python 3.8 at run time, and never imports the
rest of dbtasks. The parent starts it as `python .../dbtasks/worker/__main__.py` and imports only its
protocol, revisions, catalog and libpq modules.
"""
