"""`--profile SCENARIO`: where our time goes. Our command (`inv` or `dbtasks`) runs under `python -m cProfile`;
the per-service workers it starts (plain `python dbtasks/worker/__main__.py`, so cProfile cannot reach them) are profiled by
a `sitecustomize` module put on their PYTHONPATH for that one run, each dumping its stats at exit."""

from __future__ import annotations

import io
import os
import pstats
import sys
import sysconfig
from pathlib import Path

from .runner import Bench, run_side
from .scenarios import build
from .synthetic import REPO, SyntheticProject

FOLDER_VARIABLE = "DBTASKS_BENCH_PROFILE_DIR"

# Imported by every Python process of the profiled run that finds it on PYTHONPATH: all but the one
# already under cProfile (our command's own process) profile themselves and dump their stats at exit.
SITECUSTOMIZE = f'''import os
import sys

_folder = os.environ.get("{FOLDER_VARIABLE}")
if _folder and "cProfile" not in sys.orig_argv:
    import atexit
    import cProfile

    _profiler = cProfile.Profile()

    def _dump() -> None:
        _profiler.disable()
        _profiler.dump_stats(os.path.join(_folder, f"worker-{{os.getpid()}}.prof"))

    atexit.register(_dump)
    _profiler.enable()
'''


def profile(bench: Bench, name: str, project: SyntheticProject, url: str, folder: Path, top: int) -> str:
    """Ours for scenario `name`, once, profiled; the top entries by cumulative time, as text."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    main_stats = folder / "main.prof"
    plain_invoke, plain_direct, plain_env = bench.invoke, bench.direct, dict(bench.extra_env)
    profiled = [str(bench.python), "-m", "cProfile", "-o", str(main_stats), "-m"]
    bench.invoke, bench.direct = [*profiled, "invoke"], [*profiled, "dbtasks"]
    search = [str(folder), *filter(None, [os.environ.get("PYTHONPATH")])]  # keep a checkout given on PYTHONPATH
    bench.extra_env.update({FOLDER_VARIABLE: str(folder), "PYTHONPATH": os.pathsep.join(search)})
    side = build(name, project.services[0].name).ours
    try:
        seconds = run_side(bench, side, project, url, name).seconds
    finally:
        bench.invoke, bench.direct, bench.extra_env = plain_invoke, plain_direct, plain_env
    workers = sorted(folder.glob("worker-*.prof"))
    parts = [
        f"{side.label.strip('`')}, profiled: {seconds:.3f} s wall (profiling slows it down).",
        "",
        f"The {'Invoke' if side.label.startswith('`inv') else 'dbtasks'} process (python -m cProfile), by cumulative time:",
        _top([main_stats], top),
    ]
    if workers:
        parts += ["", f"Its {len(workers)} worker processes, added together, by cumulative time:", _top(workers, top)]
    else:
        parts += ["", "No worker process ran (or none exited normally), so there is no worker profile."]
    return _shorten("\n".join(parts), project)


def _top(files: list[Path], top: int) -> str:
    buffer = io.StringIO()
    stats = pstats.Stats(str(files[0]), stream=buffer)
    for extra in files[1:]:
        stats.add(str(extra))
    stats.sort_stats("cumulative").print_stats(top)
    lines = buffer.getvalue().strip("\n").splitlines()
    noise = ("   Ordered by", "   List reduced")  # and the per-file header lines, which name temporary paths
    return "\n".join(line for line in lines if not line.startswith(noise) and not line.endswith(".prof")).strip("\n")


def _shorten(text: str, project: SyntheticProject) -> str:
    """Long absolute paths as the reader knows them."""
    for prefix, shown in (
        (sysconfig.get_paths()["purelib"] + "/", ""),
        (str(project.root) + "/", "<project>/"),
        (str(REPO) + "/", ""),
        (sys.base_prefix + "/lib/", "<python>/"),
    ):
        text = text.replace(prefix, shown)
    return text
