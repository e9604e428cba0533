"""Start a worker: `python <this file>` runs the request on stdin; `--serve FD [DRIVER...]` runs a fork server; `--probe` says hello.

Run as a file, this folder is first on sys.path, where our module names (ops, catalog, ...) would
shadow the service's own: it is taken off, and the package is loaded under a private name instead.
"""

import atexit
import gc
import importlib
import importlib.util
import json
import os
import sys

PACKAGE = "_dbtasks_worker"


def _load_package() -> str:
    if __package__:
        return __package__  # python -m dbtasks.worker, where dbtasks is importable
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0]) == here:
        del sys.path[0]
    spec = importlib.util.spec_from_file_location(PACKAGE, os.path.join(here, "__init__.py"), submodule_search_locations=[here])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)
    return PACKAGE


def main() -> int:
    if sys.argv[1:2] == ["--probe"]:  # the runner's check that a service's `python:` runs this file (runner.PROBE)
        sys.stdout.write("dbtasks worker\n")
        return 0
    # At exit, after every other exit function: no object left for the teardown's collections to walk (Alembic's,
    # SQLAlchemy's, the service's), tens of milliseconds of each spawned worker's end.
    atexit.register(gc.freeze)
    package = _load_package()
    process = importlib.import_module(package + ".process")
    if sys.argv[1:2] == ["--serve"]:
        serve = importlib.import_module(package + ".serve")
        serve.serve(int(sys.argv[2]), process.run_request, sys.argv[3:])  # it exits on its own, when its parent is done
    return int(process.run_request(json.loads(sys.stdin.readline())))


if __name__ == "__main__":
    sys.exit(main())
