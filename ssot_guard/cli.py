"""The ``ssot-guard`` command line (SPEC §10).

Exit statuses, shared by every command:

* ``run``: the program's own status (``SystemExit`` code; 1 after an uncaught exception);
  :data:`EXIT_VIOLATIONS` (3) when the program exited 0 but violations at ``error``
  severity were recorded (e.g. ``--mode strict``);
* :data:`EXIT_USAGE` (2): bad arguments, invalid configuration, a script that cannot be
  opened, a report file that cannot be read, an output that cannot be written;
* ``check`` and ``demo`` document their own statuses.

``run`` never writes to stdout (the program owns it); its own messages go to stderr. The
modules behind ``check``, ``demo`` and the renderers are imported only when used, so a
guarded program starts with as little of ssot_guard loaded as possible.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import runpy
import sys
import types
from collections.abc import Sequence
from typing import Any, Final

from . import __version__

EXIT_OK: Final = 0
EXIT_USAGE: Final = 2
EXIT_VIOLATIONS: Final = 3

#: Commands implemented in their own modules: ``add_arguments(parser)`` and ``run(args)``.
LAZY_COMMANDS: Final = {
    "check": "ssot_guard._check",
    "demo": "ssot_guard._demo",
}

_RUN_EPILOG = """\
examples:
  ssot-guard run app.py --port 8000           run a script with its own arguments
  ssot-guard run -m app.server --debug        run a module, like python -m
  ssot-guard run --mode strict -m app.worker  exit 3 on any violation, even a swallowed one
  ssot-guard run --report guard.json --trace start-up.json --importtime imports.txt app.py

Everything after SCRIPT (or -m MODULE) goes to the program, verbatim; sys.argv and
sys.path[0] are set as python itself sets them. The program's stdout is untouched:
ssot-guard writes only to stderr and to the files you name. For a test suite, use the
pytest plugin (pytest --ssot-guard) rather than 'ssot-guard run -m pytest'.

exit status: the program's own; 1 after an uncaught exception; 3 when the program exited
0 but violations at error severity were recorded; 2 when ssot-guard itself could not
start the program or write an output.
"""

_REPORT_EPILOG = """\
examples:
  ssot-guard report guard.json                       violations, slowest imports, tree
  ssot-guard report guard.json --top 20 --depth 2    longer top list, shallower tree
  ssot-guard report guard.json --format importtime > imports.txt && tuna imports.txt
  ssot-guard report guard.json --format trace -o start-up.json   # open in ui.perfetto.dev
  ssot-guard report guard.json --format dot | dot -Tpng -o imports.png

formats:
  text        violations by rule with chains and file:line, slowest imports, import tree
  json        the report itself (validated)
  importtime  lines in the format of python -X importtime (readable by tuna)
  trace       Chrome/Perfetto trace-event JSON: one track per thread, one slice per
              import, violations as instant events
  dot         Graphviz graph of first-party imports; edges that close a cycle in red

exit status: 0; 2 when the file is missing, not JSON or not an ssot_guard report.
"""

_CONFIG_EPILOG = """\
examples:
  ssot-guard config                    effective settings and where each came from
  ssot-guard config --format json      the same as JSON
  SSOT_GUARD_MODE=strict ssot-guard config

Sources, highest first: install() arguments, the environment (SSOT_GUARD_MODE,
SSOT_GUARD_CONFIG), [tool.ssot_guard] in the nearest pyproject.toml that has it, defaults.

exit status: 0; 2 when the configuration is invalid (the message names file and key).
"""

_MAIN_EPILOG = """\
examples:
  ssot-guard run -m app.main           run a program under the guard
  ssot-guard report guard.json         summarise a saved report
  ssot-guard check                     import every first-party module first
  ssot-guard config                    show the effective configuration
  ssot-guard demo                      the golden-path demo

Run 'ssot-guard COMMAND --help' for a command's options and exit statuses.
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the hand-wrapped examples of the epilogs."""


def _count(text: str) -> int:
    """argparse type: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def _fail(message: str) -> None:
    """One line on stderr, never a traceback."""
    try:
        sys.stderr.write(f"ssot-guard: error: {message}\n")
        sys.stderr.flush()
    except Exception:  # a program may have closed stderr
        pass


# --------------------------------------------------------------------------- parser


def build_parser(populate: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; *populate* names a lazy command whose options are added."""
    parser = argparse.ArgumentParser(
        prog="ssot-guard",
        description="Watch a Python program's imports and classes for broken single sources "
        "of truth.",
        epilog=_MAIN_EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"ssot-guard {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run a program under the guard (like coverage run)",
        description="Run a Python script or module under the guard, then write the "
        "requested outputs.",
        usage="ssot-guard run [-h] [--mode MODE] [--report PATH] [--trace PATH] "
        "[--importtime PATH] (-m MODULE | SCRIPT) [ARGS ...]",
        epilog=_RUN_EPILOG,
        formatter_class=_Formatter,
        allow_abbrev=False,
    )
    run.add_argument(
        "--mode",
        choices=("off", "warn", "strict"),
        help="guard mode (default: from the configuration, else warn)",
    )
    run.add_argument("--report", metavar="PATH", help="write the JSON report here")
    run.add_argument("--trace", metavar="PATH", help="write a Chrome/Perfetto trace here")
    run.add_argument("--importtime", metavar="PATH", help="write python -X importtime lines here")
    run.add_argument(
        "-m",
        dest="module",
        action="store_true",
        help="run MODULE as __main__, as python -m does",
    )
    # One REMAINDER positional: argparse then hands the program its arguments verbatim,
    # "--" included, as python does (a separate SCRIPT positional loses the first "--").
    run.add_argument(
        "program",
        nargs=argparse.REMAINDER,
        metavar="SCRIPT | MODULE, ARGS",
        help="the script path (or with -m the module), then the program's own arguments",
    )

    report = commands.add_parser(
        "report",
        help="render a saved report",
        description="Render a report saved by 'ssot-guard run --report' or Guard.write_report().",
        epilog=_REPORT_EPILOG,
        formatter_class=_Formatter,
    )
    report.add_argument("path", metavar="PATH", help="the report file (JSON)")
    report.add_argument(
        "--format",
        "-f",
        choices=("text", "json", "importtime", "trace", "dot"),
        default="text",
        help="output format (default: text)",
    )
    report.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )
    report.add_argument(
        "--top", type=_count, default=10, metavar="N", help="text: how many slowest imports (10)"
    )
    report.add_argument(
        "--depth", type=_count, default=None, metavar="N", help="text: limit the import tree depth"
    )

    config = commands.add_parser(
        "config",
        help="show the effective configuration and its sources",
        description="Print the configuration the guard would use here, and where each "
        "value came from.",
        epilog=_CONFIG_EPILOG,
        formatter_class=_Formatter,
    )
    config.add_argument("--format", "-f", choices=("text", "json"), default="text")

    helps = {
        "check": "import every first-party module first, in fresh interpreters",
        "demo": "run the golden-path demo: the incident without, with and under a strict guard",
    }
    for name, help_text in helps.items():
        if name == populate:
            sub = commands.add_parser(
                name, help=help_text, description=help_text, formatter_class=_Formatter
            )
            _lazy_module(name).add_arguments(sub)
        else:
            # Options unknown until the command's module is imported (see main()).
            commands.add_parser(name, help=help_text, add_help=False)
    return parser


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices[name]
            return found
    raise KeyError(name)  # pragma: no cover


def _lazy_module(command: str) -> Any:
    return importlib.import_module(LAZY_COMMANDS[command])


# --------------------------------------------------------------------------- run


class _ProgramError(Exception):
    """ssot-guard could not start the program (no such file or module)."""


def _is_guard_frame(filename: str) -> bool:
    from ._frames import is_internal

    return (
        is_internal(filename)
        or filename == runpy.__file__
        or filename in ("<frozen runpy>", __file__)
    )


def _program_traceback(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback from the program's first frame on, as ``python script.py`` shows it."""
    while tb is not None and _is_guard_frame(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return tb


def _exit_code(error: SystemExit) -> int:
    """What the interpreter would exit with for this ``SystemExit``."""
    code = error.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        sys.stderr.write(f"{code}\n")
    except Exception:
        pass
    return 1


def _execute(module: bool, target: str, args: list[str]) -> int:
    """Run the program as ``__main__``; returns its exit status."""
    if module:
        sys.argv = [target, *args]  # runpy replaces argv[0] with the module's file
        path0 = os.getcwd()
    else:
        if not os.path.exists(target):
            raise _ProgramError(
                f"can't open file {os.path.abspath(target)!r}: [Errno 2] No such file or directory"
            )
        sys.argv = [target, *args]
        if os.path.isdir(target) or (not target.endswith((".py", ".pyw")) and _is_zip(target)):
            path0 = os.path.abspath(target)
        else:
            path0 = os.path.dirname(os.path.abspath(target))
    if not getattr(sys.flags, "safe_path", False):  # python -P adds no script folder
        if sys.path:
            sys.path[0] = path0
        else:
            sys.path.insert(0, path0)
    try:
        if module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            # Absolute, as python >= 3.9 makes __main__.__file__ (runpy would keep it
            # relative, and a program that changes directory would lose its own file).
            runpy.run_path(os.path.abspath(target), run_name="__main__")
    except SystemExit as error:
        return _exit_code(error)
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        tb = _program_traceback(error.__traceback__)
        if module and isinstance(error, ImportError) and tb is None:
            # runpy's own "No module named ..." (nothing of the program ran).
            raise _ProgramError(str(error)) from None
        error.__traceback__ = tb
        sys.excepthook(type(error), error, tb)
        return 1
    return 0


def _join_threads() -> None:
    """Wait for the program's non-daemon threads, as the interpreter does before exiting.

    Python joins them after the main module returns and before ``atexit`` handlers run;
    doing it here (same order) puts their imports and violations in the outputs.
    """
    import threading

    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon and thread.is_alive():
            thread.join()


def _is_zip(path: str) -> bool:
    import zipfile

    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _write_text(path: str, text: str) -> None:
    """Write atomically: a temporary file in the same folder, then a rename."""
    import tempfile

    target = os.path.abspath(path)
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".ssot-guard-", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def _write_outputs(guard: Any, args: argparse.Namespace) -> bool:
    """Write --report/--trace/--importtime; False (after a message) when one failed."""
    if not (args.report or args.trace or args.importtime):
        return True
    ok = True
    with guard.busy():
        from .render import render_json
        from .render.importtime import render_importtime
        from .render.trace import render_trace_json

        report = guard.report()
        outputs = (
            (args.report, render_json),
            (args.trace, render_trace_json),
            (args.importtime, render_importtime),
        )
        for path, render in outputs:
            if not path:
                continue
            try:
                _write_text(path, render(report))
            except OSError as error:
                _fail(f"cannot write {path}: {error.strerror or error}")
                ok = False
    return ok


def _describe(event: Any) -> str:
    text = f"  {event.rule} {event.name}: {event.subject}"
    if event.location:
        text += f" at {event.location}"
    if event.count > 1:
        text += f" (x{event.count})"
    if event.chain:
        text += f"\n      chain: {event.chain_text()}"
    return text


def _split_program(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``args.program`` -> ``args.target`` + ``args.args`` (a leading ``--`` ends our options)."""
    program = list(args.program)
    if program and program[0] == "--":
        program.pop(0)
    if not program:
        parser.error("the following arguments are required: SCRIPT | MODULE")
    args.target, args.args = program[0], program[1:]


def _command_run(args: argparse.Namespace) -> int:
    import pkgutil  # noqa: F401  runpy.run_path imports it: load it before the guard sees it

    import ssot_guard

    # Outputs are named relative to where ssot-guard started, not where the program ends.
    for option in ("report", "trace", "importtime"):
        if getattr(args, option):
            setattr(args, option, os.path.abspath(getattr(args, option)))
    settings: dict[str, Any] = {}
    if args.mode:
        settings["mode"] = args.mode
    try:
        guard = ssot_guard.install(**settings)
    except ssot_guard.ConfigError as error:
        _fail(str(error))
        return EXIT_USAGE
    try:
        status = _execute(args.module, args.target, list(args.args))
    except _ProgramError as error:
        # As python: 2 for a script it cannot open, 1 for a module it cannot find.
        _fail(str(error))
        return 1 if args.module else EXIT_USAGE
    except KeyboardInterrupt:
        _write_outputs(guard, args)
        raise
    _join_threads()
    written = _write_outputs(guard, args)
    failures = guard.failures()
    internal = guard.internal_errors if guard.mode == "strict" else {}
    if failures or internal:
        lines = [f"ssot-guard: {len(failures)} violation(s) at error severity:"]
        lines += [_describe(event) for event in failures]
        lines += [f"  internal error in {name}: {what}" for name, what in internal.items()]
        try:
            sys.stderr.write("\n".join(lines) + "\n")
        except Exception:
            pass
        if status == 0:
            status = EXIT_VIOLATIONS
    if not written and status == 0:
        status = EXIT_USAGE
    return status


# --------------------------------------------------------------------------- report


def _command_report(args: argparse.Namespace) -> int:
    from .render import ReportError, load_report, renderer
    from .render.text import render_text

    try:
        report = load_report(args.path)
    except ReportError as error:
        _fail(str(error))
        return EXIT_USAGE
    if args.format == "text":
        text = render_text(report, top=args.top, max_depth=args.depth)
    else:
        text = renderer(args.format)(report)
    if args.output:
        try:
            _write_text(args.output, text)
        except OSError as error:
            _fail(f"cannot write {args.output}: {error.strerror or error}")
            return EXIT_USAGE
    else:
        sys.stdout.write(text)
    return EXIT_OK


# --------------------------------------------------------------------------- config


def _command_config(args: argparse.Namespace) -> int:
    from ._config import load_settings
    from ._errors import ConfigError
    from ._rules import RULES

    try:
        settings = load_settings()
    except ConfigError as error:
        _fail(str(error))
        return EXIT_USAGE
    values = settings.as_dict()
    sources = dict(settings.sources)
    if args.format == "json":
        data = {
            "config_file": settings.config_file,
            "project_root": settings.project_root,
            "settings": {
                key: {"value": value, "source": sources.get(key, "derived")}
                for key, value in values.items()
                if key not in ("config_file", "project_root")
            },
            "rules": {
                rule.code: {
                    "name": rule.name,
                    "severity": settings.severity(rule.code),
                    "source": sources["rules"]
                    if rule.code in settings.rules
                    else f"mode {settings.mode}",
                }
                for rule in RULES
            },
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return EXIT_OK
    lines = [
        f"config file:  {settings.config_file or 'none (no [tool.ssot_guard] found)'}",
        f"project root: {settings.project_root}",
        "",
    ]
    width = max(len(key) for key in values)
    for key, value in values.items():
        if key in ("config_file", "project_root", "rules"):
            continue
        shown = json.dumps(value, sort_keys=True)
        lines.append(f"{key:<{width}} = {shown:<40} # {sources.get(key, 'derived')}")
    lines += ["", "rules:"]
    for rule in RULES:
        source = sources["rules"] if rule.code in settings.rules else f"mode {settings.mode}"
        lines.append(f"  {rule.code} {rule.name:<28} {settings.severity(rule.code):<6} # {source}")
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ssot-guard`` script; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, _ = parser.parse_known_args(arguments)
    if args.command in LAZY_COMMANDS:
        parser = build_parser(populate=args.command)
    args = parser.parse_args(arguments)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    if args.command == "run":
        _split_program(_subparser(parser, "run"), args)
        return _command_run(args)
    if args.command == "report":
        return _command_report(args)
    if args.command == "config":
        return _command_config(args)
    status: int = _lazy_module(args.command).run(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
