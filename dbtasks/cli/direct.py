"""`dbtasks TASK [ARGS]`: the `db` tasks without Invoke's start-up (its imports), for CI and scripts.

The same bodies as `inv db.TASK` (registry.py) and the same options, parsed the way Invoke parses them: required
parameters are positional (or `--name VALUE`), `--flag VALUE`, `--flag=VALUE`, the short flags of SHORT_FLAGS, and
booleans without a value. Messages and exit codes are the tasks' own; only a bad command line is worded here (exit 2).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import settings
from ..settings import find_config
from . import registry


class CommandLineError(ValueError):
    """A command line that names no task, an unknown option, a missing value: one line, exit 2."""


class HelpWanted(Exception):
    """-h or --help where an option may stand."""


@dataclass
class Spec:
    """How one task's command line reads: its positional parameters, its options by flag, its help."""

    name: str
    body: Callable[..., None]
    helps: dict[str, str]
    positional: list[str] = field(default_factory=list)
    flags: dict[str, str] = field(default_factory=dict)  # --long / -s -> parameter name
    kinds: dict[str, type] = field(default_factory=dict)  # parameter name -> bool, int or str

    @classmethod
    def of(cls, name: str, body: Callable[..., None], helps: dict[str, str]) -> Spec:
        spec = cls(name, body, helps)
        for parameter in list(inspect.signature(body).parameters.values())[1:]:  # [0] is Invoke's context
            flag = "--" + parameter.name.strip("_").replace("_", "-")
            spec.flags[flag] = parameter.name
            short = registry.SHORT_FLAGS.get(parameter.name)
            if short is not None:
                spec.flags["-" + short] = parameter.name
            default = parameter.default
            if default is inspect.Parameter.empty:
                spec.positional.append(parameter.name)
                spec.kinds[parameter.name] = str
            else:
                spec.kinds[parameter.name] = type(default) if isinstance(default, (bool, int)) else str
        return spec

    def parse(self, args: list[str]) -> dict[str, Any]:
        """The keyword arguments of the body for `args` (CommandLineError when they do not fit)."""
        given: dict[str, Any] = {}
        waiting = list(self.positional)
        index = 0
        while index < len(args):
            arg, index = args[index], index + 1
            if arg.startswith("-") and len(arg) > 1:
                flag, equals, value = arg.partition("=")
                has_value = bool(equals)
                if not has_value and len(flag) > 2 and not flag.startswith("--"):  # -tVALUE
                    flag, has_value, value = flag[:2], True, flag[2:]
                if flag in ("-h", "--help"):
                    raise HelpWanted
                name = self.flags.get(flag)
                if name is None:
                    raise CommandLineError(f"dbtasks {self.name}: no option {flag!r}; see 'dbtasks {self.name} --help'")
                if self.kinds[name] is bool:
                    if has_value:
                        raise CommandLineError(f"dbtasks {self.name}: {flag} takes no value; write {flag} alone")
                    given[name] = True
                    continue
                if not has_value:
                    if index >= len(args):
                        raise CommandLineError(f"dbtasks {self.name}: {flag} needs a value; see 'dbtasks {self.name} --help'")
                    value, index = args[index], index + 1
                given[name] = self._converted(name, flag, value)
                if name in waiting:
                    waiting.remove(name)
            elif waiting:
                given[waiting.pop(0)] = arg
            else:
                raise CommandLineError(f"dbtasks {self.name}: unexpected argument {arg!r}; see 'dbtasks {self.name} --help'")
        if waiting:
            missing = " ".join(name.upper() for name in waiting)
            raise CommandLineError(f"dbtasks {self.name}: missing {missing}; see 'dbtasks {self.name} --help'")
        return given

    def _converted(self, name: str, flag: str, value: str) -> Any:
        if self.kinds[name] is int:
            try:
                return int(value)
            except ValueError:
                raise CommandLineError(f"dbtasks {self.name}: {flag} takes a whole number, not {value!r}") from None
        return value

    def usage(self) -> str:
        lines = [f"usage: dbtasks {self.name} {' '.join(name.upper() for name in self.positional)}".rstrip(), ""]
        lines += [f"  {(self.body.__doc__ or '').strip()}", "", "options:"]
        for name, kind in self.kinds.items():
            flags = sorted((flag for flag, owner in self.flags.items() if owner == name), key=len)
            value = "" if kind is bool else f" {name.strip('_').upper()}"
            lines.append(f"  {', '.join(flags)}{value}".ljust(34) + self.helps.get(name.strip("_"), self.helps.get(name, "")))
        return "\n".join(lines)


def definitions(config_file: Path) -> dict[str, tuple[Callable[..., None], dict[str, str]]]:
    """Every task's body and help per parameter, by name (a Spec is made for the one that runs)."""
    return {name: (body, helps) for name, body, helps in registry.definitions(config_file)}


def listing(tasks: dict[str, tuple[Callable[..., None], dict[str, str]]]) -> str:
    width = max(len(name) for name in tasks) + 2
    lines = ["tasks (dbtasks TASK --help for its options; the same as inv db.TASK):"]
    lines += [f"  {name.ljust(width)}{(body.__doc__ or '').strip().splitlines()[0]}" for name, (body, _) in tasks.items()]
    return "\n".join(lines)


def run(argv: list[str]) -> int:
    """Run `dbtasks TASK [ARGS]` (TASK may be written db.TASK); the exit code."""
    config_file = find_config(Path.cwd())
    if config_file is None:
        print(
            f"dbtasks: no {settings.CONFIG_NAME} in {Path.cwd()} or above; run it in your project, or set {settings.CONFIG}",
            file=sys.stderr,
        )
        return 2
    tasks = definitions(config_file)
    name = argv[0].removeprefix("db.") if argv else ""
    if name in ("--list", "-l"):
        print(listing(tasks))
        return 0
    spec = Spec.of(name, *tasks[name]) if name in tasks else None
    if spec is None:
        print(f"dbtasks: unknown task {argv[0]!r}; 'dbtasks --list' shows the tasks", file=sys.stderr)
        return 2
    try:
        spec.body(None, **spec.parse(argv[1:]))
    except HelpWanted:
        print(spec.usage())
    except CommandLineError as error:
        print(error, file=sys.stderr)
        return 2
    except Exception as error:  # an expected failure is one line; anything else keeps its traceback
        failure = registry.expected_failure(error)
        if failure is None:
            raise
        print(failure[0], file=sys.stderr)
        return failure[1]
    except KeyboardInterrupt:
        return 130
    return 0
