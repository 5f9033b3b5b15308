"""``ssot-guard check``: import every first-party module first, in a fresh interpreter.

A test run imports modules in one order; entry points, workers and scripts import them in
others, and an import cycle only breaks for whoever enters it first (SPEC §10). ``check``
therefore starts one interpreter per module, installs the guard, imports that module
*first*, and collects what happened: ok, failed (exception, notes, traceback), exited,
timed out, or imported with rule violations. Failures and violations caused by the same
cycle are grouped, naming the import statement that closed it (the edge back into a module
still executing its body): moving that statement breaks the cycle.

Children never talk to the parent through their stdout (a module may print megabytes):
each writes a JSON result file, and its stdout/stderr go to files of which only a tail and
the size are kept.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from ._config import MODES, Settings, load_settings
from ._errors import ConfigError
from ._rules import BY_CODE
from .render import chain_text

CHECK_SCHEMA: Final = "ssot_guard.check/1"
#: Where this ssot_guard is imported from: children must import the same one (a source
#: checkout works without installing). Placed after the project's roots.
_OWN_ROOT: Final = str(Path(__file__).resolve().parent.parent)
DEFAULT_TIMEOUT: Final = 60.0
#: Bytes of a child's stderr kept for the report (its end, where tracebacks are).
STDERR_TAIL: Final = 2000
#: Traceback frames kept per failure (the innermost ones).
MAX_FRAMES: Final = 40

_SKIP_DIRS: Final = frozenset(
    {"__pycache__", "node_modules", "site-packages", "dist-packages", "build", "dist"}
)
_SKIP_TOP_MODULES: Final = frozenset({"setup", "conftest", "noxfile", "fabfile"})
_TEST_DIRS: Final = frozenset({"tests", "test", "testing"})
_PARTIAL_RE: Final = re.compile(r"partially initialized module '([\w.]+)'")
_SUBMODULE_RE: Final = re.compile(r"cannot access submodule '(\w+)' of module '([\w.]+)'")

# What each child runs. ``_run`` installs the guard before importing the target, writes its
# result to a file (atomically), and leaves with ``os._exit`` so that non-daemon threads or
# atexit handlers started by the module cannot stall the check.
_CHILD_LIB: Final = r"""
import sys, os, json, traceback
import ssot_guard
_real_exit = os._exit
_state = {}

def _frames(exc):
    frames = []
    for frame, line in traceback.walk_tb(exc.__traceback__):
        code = frame.f_code
        module = frame.f_globals.get("__name__") if isinstance(frame.f_globals, dict) else None
        frames.append({"file": code.co_filename, "line": line, "function": code.co_name,
                       "module": module if isinstance(module, str) else None})
    return frames[-@MAX_FRAMES@:]

def _describe(exc):
    import linecache
    frames = _frames(exc)
    for item in frames:
        item["code"] = linecache.getline(item["file"], item["line"]).strip()[:300]
    notes = getattr(exc, "__notes__", None) or []
    return {"type": type(exc).__name__, "qualname": type(exc).__module__ + "." +
            type(exc).__qualname__, "message": str(exc)[:4000],
            "notes": [str(n)[:4000] for n in notes][:20],
            "name": getattr(exc, "name", None) if isinstance(exc, ImportError) else None,
            "mro": [c.__name__ for c in type(exc).__mro__], "frames": frames}

def _finish(status, error=None, code=None):
    if "done" in _state:
        return
    _state["done"] = status
    try:
        report = _state["guard"].report()
    except BaseException as exc:
        report = {"events": [], "imports": [], "report_error": repr(exc)}
    payload = {"module": _state["target"], "status": status, "error": error,
               "exit_code": code, "report": report}
    out = _state["out"]
    with open(out + ".tmp", "w", encoding="utf-8") as stream:
        json.dump(payload, stream, default=repr)
    os.replace(out + ".tmp", out)

def _os_exit(code=0):
    try:
        frame = sys._getframe(1)
        where = {"file": frame.f_code.co_filename, "line": frame.f_lineno,
                 "function": frame.f_code.co_name, "module": frame.f_globals.get("__name__")}
        _finish("exit", {"type": "os._exit", "message": "os._exit(%r)" % (code,),
                         "frames": [where], "notes": []}, code)
    finally:
        _real_exit(code)

def _run(target, out, kwargs):
    _state.update(target=target, out=out)
    sys.argv = [target]
    _state["guard"] = ssot_guard.install(**kwargs)
    os._exit = _os_exit
    import importlib
    if target in sys.modules:  # imported by site or by ssot_guard itself: nothing to learn
        _finish("skipped")
        _real_exit(0)
    try:
        importlib.import_module(target)
    except SystemExit as exc:
        _finish("exit", _describe(exc), exc.code if isinstance(exc.code, int) else repr(exc.code))
    except BaseException as exc:
        _finish("failed", _describe(exc))
    else:
        _finish("ok")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    _real_exit(0)
""".replace("@MAX_FRAMES@", str(MAX_FRAMES))

#: A fresh interpreter per module: ``python -c _CHILD MODULE RESULT KWARGS``.
_CHILD: Final = _CHILD_LIB + "\n_run(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))\n"

#: ``--fork``: one interpreter imports ssot_guard once, then forks a child per module. It
#: reads one JSON request per line on stdin and answers ``{"id", "pid"}`` when a child
#: started and ``{"id", "ended"}`` with its exit status (it reaps its own children).
_FORK_SERVER: Final = (
    _CHILD_LIB
    + r"""
import select

def _say(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()

def _start(request):
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        os.dup2(os.open(request["stdout"], flags, 0o600), 1)
        os.dup2(os.open(request["stderr"], flags, 0o600), 2)
        _run(request["target"], request["out"], request["kwargs"])
    finally:
        _real_exit(70)

def _serve():
    children = {}
    pending = b""
    open_input = True
    while open_input or children:
        ready = select.select([0], [], [], 0.02)[0] if open_input else []
        if not open_input:
            import time
            time.sleep(0.02)
        if ready:
            chunk = os.read(0, 65536)
            if not chunk:
                open_input = False
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                pid = _start(request)
                children[pid] = request["id"]
                _say({"id": request["id"], "pid": pid})
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children.clear()
                break
            if pid == 0:
                break
            ident = children.pop(pid, None)
            if ident is not None:
                _say({"id": ident, "ended": os.waitstatus_to_exitcode(status)})

_serve()
"""
)


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True, slots=True)
class Target:
    """One module to import first: its dotted name, its file and its ``sys.path`` root."""

    name: str
    path: Path
    root: Path


def _is_identifier(name: str) -> bool:
    return name.isidentifier()


def _is_venv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir()


def _skip_dir(folder: Path, include_tests: bool) -> bool:
    name = folder.name
    if name.startswith(".") or name in _SKIP_DIRS or not _is_identifier(name):
        return True
    if not include_tests and name in _TEST_DIRS:
        return True
    return _is_venv(folder)


def _is_test_module(stem: str) -> bool:
    return stem == "conftest" or stem.startswith("test_") or stem.endswith("_test")


def _walk_package(
    package: str,
    folder: Path,
    root: Path,
    include_tests: bool,
    seen: set[Path] | None = None,
) -> Iterator[Target]:
    """The package itself (when it has ``__init__.py``) and every module below it."""
    seen = set() if seen is None else seen
    real = folder.resolve()
    if real in seen:  # a symbolic link back up the tree
        return
    seen.add(real)
    init = folder / "__init__.py"
    if init.is_file():
        yield Target(package, init, root)
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.is_dir():
            if _skip_dir(entry, include_tests):
                continue
            yield from _walk_package(f"{package}.{entry.name}", entry, root, include_tests, seen)
        elif entry.suffix == ".py" and entry.name != "__init__.py":
            stem = entry.stem
            if not _is_identifier(stem) or stem == "__main__":
                continue
            if not include_tests and _is_test_module(stem):
                continue
            yield Target(f"{package}.{stem}", entry, root)


def _source_roots(project: Path) -> list[Path]:
    """Where top-level modules live: the project folder, and ``src/`` for a src layout."""
    roots = [project]
    src = project / "src"
    if src.is_dir() and not (src / "__init__.py").exists():
        roots.append(src)
    return roots


def _locate(package: str, project: Path) -> tuple[Path, Path] | None:
    """``(folder or file, sys.path root)`` of a dotted package, without importing anything."""
    parts = package.split(".")
    candidates = [*_source_roots(project), *(Path(p) for p in sys.path if p)]
    for root in candidates:
        base = root.joinpath(*parts)
        if base.is_dir():
            return base, root
        module = base.with_suffix(".py")
        if module.is_file():
            return module, root
    return None


def _excluded(name: str, patterns: Sequence[str]) -> bool:
    """A module is excluded when a pattern matches its name or one of its packages'."""
    if not patterns:
        return False
    parts = name.split(".")
    prefixes = [".".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes for pattern in patterns)


def discover(
    project: Path,
    packages: Sequence[str] = (),
    *,
    include_tests: bool = False,
    exclude: Sequence[str] = (),
) -> list[Target]:
    """Every first-party module to check, sorted by name.

    With *packages*, the modules of those packages; otherwise every package (a folder with
    ``__init__.py``) and top-level module under the project folder (and ``src/``), skipping
    hidden folders, virtual environments, ``tests`` unless *include_tests*, ``setup.py``,
    ``conftest.py``, ``noxfile.py``, and ``__main__`` modules (entry points: importing one
    runs the program). *exclude* holds ``fnmatch`` globs on dotted names.
    """
    found: dict[str, Target] = {}
    if packages:
        for package in packages:
            located = _locate(package, project)
            if located is None:
                raise ConfigError(f"check: package {package!r} not found under {project}")
            where, root = located
            if where.is_dir():
                items: Iterator[Target] = _walk_package(package, where, root, include_tests)
            else:
                items = iter([Target(package, where, root)])
            for target in items:
                found.setdefault(target.name, target)
    else:
        for root in _source_roots(project):
            for entry in sorted(root.iterdir()):
                if entry.is_dir():
                    if entry == project / "src" or _skip_dir(entry, include_tests):
                        continue
                    if (entry / "__init__.py").is_file():
                        for target in _walk_package(entry.name, entry, root, include_tests):
                            found.setdefault(target.name, target)
                elif entry.suffix == ".py" and _is_identifier(entry.stem):
                    stem = entry.stem
                    if stem in _SKIP_TOP_MODULES or stem == "__main__":
                        continue
                    if not include_tests and _is_test_module(stem):
                        continue
                    found.setdefault(stem, Target(stem, entry, root))
    return [t for name, t in sorted(found.items()) if not _excluded(name, exclude)]


# --------------------------------------------------------------------------- running


@dataclass(slots=True)
class ModuleResult:
    """What importing one module first produced."""

    module: str
    #: ``ok``, ``violations``, ``failed``, ``exit``, ``timeout``, ``crashed``, or ``skipped``
    #: (already imported before the guard, e.g. by ``site``: it cannot be imported first).
    status: str
    seconds: float
    error: dict[str, Any] | None = None
    exit_code: int | str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    imports: list[dict[str, Any]] = field(default_factory=list)
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    stderr_tail: str = ""
    hint: str | None = None
    cycle: tuple[str, ...] = ()
    closed_by: dict[str, Any] | None = None
    #: The statement each module of the cycle was executing: ``{module, location, code}``.
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status not in ("ok", "violations", "skipped")

    def error_events(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("severity") == "error"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "exit_code": self.exit_code,
            "hint": self.hint,
            "cycle": list(self.cycle),
            "closed_by": self.closed_by,
            "steps": self.steps,
            "events": self.events,
            "stdout_bytes": self.stdout_bytes,
            "stderr_bytes": self.stderr_bytes,
            "stderr_tail": self.stderr_tail if self.failed else "",
        }


def _tail(path: Path, size: int) -> tuple[int, str]:
    try:
        total = path.stat().st_size
        with path.open("rb") as stream:
            if total > size:
                stream.seek(total - size)
            data = stream.read(size)
    except OSError:
        return 0, ""
    return total, data.decode("utf-8", "replace")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the child and anything it started (it leads its own session)."""
    with contextlib.suppress(OSError):
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _child_env(target: Target, project: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(target.root), _OWN_ROOT]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


class _Slot:
    """One module handed to the fork server: its child's pid and exit status."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.ended = threading.Event()
        self.pid: int | None = None
        self.returncode: int | None = None


class ForkServer:
    """``--fork``: an interpreter that has imported ssot_guard forks one child per module.

    Each child is a fresh process but not a fresh interpreter: the modules the server
    imported (ssot_guard and its dependencies, a part of the standard library) are already
    loaded, first-party modules are not. It saves the interpreter start-up and the import
    of ssot_guard in every child. POSIX only.
    """

    def __init__(self, project: Path, roots: Sequence[Path], python: str) -> None:
        env = dict(os.environ)
        paths = [*(str(root) for root in dict.fromkeys(roots)), _OWN_ROOT]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env.setdefault("PYTHONIOENCODING", "utf-8")
        self._proc = subprocess.Popen(
            [python, "-c", _FORK_SERVER],
            cwd=project,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._lock = threading.Lock()
        self._slots: dict[int, _Slot] = {}
        self._next = 0
        self._reader = threading.Thread(target=self._read, name="ssot-guard-fork", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                message = json.loads(line)
                slot = self._slots[message["id"]]
            except (ValueError, KeyError, TypeError):
                continue
            if "pid" in message:
                slot.pid = message["pid"]
                slot.started.set()
            else:
                slot.returncode = message.get("ended")
                slot.ended.set()
        for slot in list(self._slots.values()):  # the server is gone: release every waiter
            slot.started.set()
            slot.ended.set()

    def launch(self, request: dict[str, Any], timeout: float) -> tuple[int | None, bool]:
        """Run one child; returns (exit status or None, timed out)."""
        slot = _Slot()
        with self._lock:
            ident = self._next
            self._next += 1
            self._slots[ident] = slot
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write((json.dumps({**request, "id": ident}) + "\n").encode())
                self._proc.stdin.flush()
            except (OSError, ValueError):
                return None, False
        if not slot.started.wait(timeout=60) or slot.pid is None:
            return None, False
        if slot.ended.wait(timeout=timeout):
            return slot.returncode, False
        _killpg(slot.pid)
        slot.ended.wait(timeout=10)
        return slot.returncode, True

    def close(self) -> None:
        for slot in list(self._slots.values()):
            if slot.pid is not None and not slot.ended.is_set():
                _killpg(slot.pid)
        with contextlib.suppress(OSError, ValueError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _killpg(self._proc.pid)
            self._proc.wait(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()


def _killpg(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


class _Live:
    """The children running now, so an interrupted check kills them instead of waiting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self.stopping = False

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(proc)
            stopping = self.stopping
        if stopping:
            _kill(proc)

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def kill_all(self) -> None:
        with self._lock:
            self.stopping = True
            procs = list(self._procs)
        for proc in procs:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL) if hasattr(os, "killpg") else proc.kill()


def _spawn(
    target: Target,
    project: Path,
    out: Path,
    out_log: Path,
    err_log: Path,
    *,
    timeout: float,
    guard_kwargs: dict[str, Any],
    python: str,
    live: _Live | None = None,
) -> tuple[int | None, bool]:
    """A fresh interpreter for one module; returns (exit status, timed out)."""
    if live is not None and live.stopping:
        return None, False
    with out_log.open("wb") as stdout, err_log.open("wb") as stderr:
        proc = subprocess.Popen(
            [python, "-c", _CHILD, target.name, str(out), json.dumps(guard_kwargs)],
            cwd=project,
            env=_child_env(target, project),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        if live is not None:
            live.add(proc)
        try:
            return proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            _kill(proc)
            return proc.returncode, True
        finally:
            if proc.returncode is None:  # interrupted: never leave a child behind
                _kill(proc)
            if live is not None:
                live.discard(proc)


def run_one(
    target: Target,
    project: Path,
    workdir: Path,
    *,
    timeout: float,
    guard_kwargs: dict[str, Any],
    python: str = sys.executable,
    server: ForkServer | None = None,
    live: _Live | None = None,
) -> ModuleResult:
    """Import *target* first in a fresh interpreter (or a fork of *server*) under the guard."""
    stem = target.name
    out = workdir / f"{stem}.json"
    out_log, err_log = workdir / f"{stem}.out", workdir / f"{stem}.err"
    started = time.perf_counter()
    if server is not None:
        request = {
            "target": target.name,
            "out": str(out),
            "stdout": str(out_log),
            "stderr": str(err_log),
            "kwargs": guard_kwargs,
        }
        returncode, timed_out = server.launch(request, timeout)
    else:
        returncode, timed_out = _spawn(
            target,
            project,
            out,
            out_log,
            err_log,
            timeout=timeout,
            guard_kwargs=guard_kwargs,
            python=python,
            live=live,
        )
    seconds = time.perf_counter() - started
    stdout_bytes, _ = _tail(out_log, 0)
    stderr_bytes, stderr_tail = _tail(err_log, STDERR_TAIL)
    payload: dict[str, Any] | None = None
    if out.is_file():
        try:
            payload = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            payload = None
    for path in (out, out_log, err_log):
        with contextlib.suppress(OSError):
            path.unlink()
    result = ModuleResult(target.name, "crashed", seconds)
    result.stdout_bytes, result.stderr_bytes, result.stderr_tail = (
        stdout_bytes,
        stderr_bytes,
        stderr_tail,
    )
    if payload is not None:
        report = payload.get("report") or {}
        result.events = [_entry_links(event) for event in report.get("events") or []]
        result.imports = list(report.get("imports") or [])
        result.error = payload.get("error")
        result.exit_code = payload.get("exit_code")
        status = payload.get("status", "crashed")
        if status == "ok":
            status = "violations" if result.events else "ok"
        result.status = status
    if timed_out:
        result.status = "timeout"
        result.hint = f"still importing after {timeout:g}s (killed): a hang or a blocking call"
    elif payload is None:
        result.exit_code = returncode
        result.hint = _crash_hint(returncode)
    else:
        result.hint = _hint(result)
    if result.status == "skipped":
        result.hint = "already imported before the guard (by site or ssot_guard): not checked"
    _attribute(result, project)
    result.imports = []  # only needed to attribute the cycle; hundreds per child
    return result


def _import_edge(events: Sequence[dict[str, Any]], chain: list[Any]) -> dict[str, Any] | None:
    """The SSOT002 event (a partial module handed out) on the same chain, if any."""
    for event in events:
        modules = [link.get("module") for link in event.get("chain") or []]
        if event.get("rule") == "SSOT002" and modules == chain:
            return event
    return None


def _entry_links(event: dict[str, Any]) -> dict[str, Any]:
    """Chain links entered by the check's own bootstrap (``python -c``) have no location."""
    for link in event.get("chain") or []:
        if str(link.get("location") or "").startswith("<string>:"):
            link["location"] = None
    return event


def _crash_hint(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        with contextlib.suppress(ValueError):
            return f"the interpreter died from signal {signal.Signals(-returncode).name}"
        return f"the interpreter died from signal {-returncode}"
    return f"the interpreter ended with status {returncode} without reporting"


def _hint(result: ModuleResult) -> str | None:
    error = result.error or {}
    if result.status == "exit":
        kind = "os._exit" if error.get("type") == "os._exit" else "sys.exit"
        hint = f"the module ends the process at import time ({kind}({result.exit_code!r}))"
        if "usage:" in result.stderr_tail:
            hint += "; it parses command-line arguments at import time (argparse usage)"
        return hint
    if result.status == "failed":
        frames = error.get("frames") or []
        code = frames[-1].get("code", "") if frames else ""
        if error.get("type") == "IndexError" and "argv" in code:
            return "the module reads command-line arguments at import time (sys.argv)"
        if error.get("type") == "EOFError":
            return "the module reads standard input at import time"
    return None


# --------------------------------------------------------------------------- cycles


def _relative(filename: str | None, project: Path) -> str | None:
    if not filename:
        return None
    root = str(project).rstrip(os.sep) + os.sep
    return filename[len(root) :] if filename.startswith(root) else filename


def partial_module(error: dict[str, Any] | None) -> str | None:
    """The module CPython's message says was partially initialized, if any."""
    if not error:
        return None
    message = str(error.get("message", ""))
    match = _PARTIAL_RE.search(message)
    if match:
        return match.group(1)
    match = _SUBMODULE_RE.search(message)
    if match:
        return f"{match.group(2)}.{match.group(1)}"
    return None


def _attribute(result: ModuleResult, project: Path) -> None:
    """Find the cycle behind a failure or an SSOT001/002 event, and its closing statement.

    The rules' chains are used when present (``chain[0]`` is the module still executing,
    the event's location the statement that read from it). Otherwise the cycle comes from
    the failure itself: CPython names the partial module, and the traceback holds one
    ``<module>`` frame per body still executing, each at its import statement; the
    innermost frame is the statement that closed the cycle.
    """
    for code in ("SSOT001", "SSOT002", "SSOT008"):
        for event in result.events:
            chain = [link.get("module") for link in event.get("chain") or []]
            if event.get("rule") == code and len(chain) >= 2 and all(chain):
                result.cycle = (*chain, chain[0])
                result.steps = [
                    {"module": link.get("module"), "location": link.get("location"), "code": None}
                    for link in event.get("chain") or []
                ]
                location = event.get("location")
                result.closed_by = {
                    "location": location,
                    "module": chain[-1],
                    "code": _source_line(project, location),
                    "source": code,
                }
                edge = _import_edge(result.events, chain) if code == "SSOT001" else None
                if edge is not None and edge.get("location") != location:
                    # ``m.name`` failed at one line, but the import statement that handed
                    # out the partial module (SSOT002, same chain) is the edge to move.
                    result.closed_by.update(
                        location=edge.get("location"),
                        code=_source_line(project, edge.get("location")),
                        failed_at=location,
                        failed_code=result.closed_by["code"],
                    )
                return
    partial = partial_module(result.error)
    if partial is None or result.error is None:
        return
    frames = result.error.get("frames") or []
    bodies: list[str] = []
    statements: dict[str, dict[str, Any]] = {}
    for frame in frames:
        module = frame.get("module")
        if frame.get("function") == "<module>" and module and (not bodies or bodies[-1] != module):
            bodies.append(module)
            statements[module] = {
                "module": module,
                "location": f"{_relative(frame.get('file'), project)}:{frame.get('line')}",
                "code": frame.get("code") or None,
            }
    if partial in bodies:
        cycle = bodies[bodies.index(partial) :]
    else:  # the cycle was entered outside the traceback: use the import records
        cycle = _records_path(result.imports, partial, bodies[-1] if bodies else None)
    if not cycle:
        return
    innermost = _user_frame(frames, project) or {}
    result.cycle = (*cycle, partial)
    result.steps = [statements.get(m, {"module": m, "location": None, "code": None}) for m in cycle]
    result.closed_by = {
        "location": f"{_relative(innermost.get('file'), project)}:{innermost.get('line')}"
        if innermost
        else None,
        "module": innermost.get("module") or cycle[-1],
        "code": innermost.get("code") or None,
        "source": "traceback",
    }


def _source_line(project: Path, location: str | None) -> str | None:
    """The statement at a project-relative ``file:line`` (for the report's reader)."""
    if not location or ":" not in location:
        return None
    filename, _, line = location.rpartition(":")
    path = Path(filename) if os.path.isabs(filename) else project / filename
    if not line.isdigit():
        return None
    try:
        with path.open(encoding="utf-8", errors="replace") as stream:
            for number, text in enumerate(stream, 1):
                if number == int(line):
                    return text.strip()[:300] or None
    except OSError:
        return None
    return None


def _user_frame(frames: Sequence[dict[str, Any]], project: Path) -> dict[str, Any] | None:
    """The innermost frame in the project's own files (else the innermost frame)."""
    root = str(project).rstrip(os.sep) + os.sep
    chosen: dict[str, Any] | None = frames[-1] if frames else None
    for frame in reversed(frames):
        if str(frame.get("file", "")).startswith(root):
            chosen = frame
            break
    return chosen


def _records_path(records: list[dict[str, Any]], start: str, end: str | None) -> list[str]:
    """Modules from *start* down to *end* following the records' parent links."""
    if end is None:
        return []
    parents = {r["name"]: r.get("parent") for r in records}
    path = [end]
    while path[-1] != start:
        parent = parents.get(path[-1])
        if parent is None or parent in path:
            return [start, end] if start != end else [start]
        path.append(parent)
    return list(reversed(path))


@dataclass(slots=True)
class CycleGroup:
    """Entry points that fail or trip a rule because of one cycle, closed at one place."""

    cycle: tuple[str, ...]
    closed_by: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)
    tripping: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle": list(self.cycle),
            "closed_by": self.closed_by,
            "steps": self.steps,
            "failing": self.failing,
            "tripping": self.tripping,
            "error": self.error,
        }


def group_cycles(results: Sequence[ModuleResult]) -> list[CycleGroup]:
    groups: dict[tuple[tuple[str, ...], str | None], CycleGroup] = {}
    for result in results:
        if not result.cycle or result.closed_by is None:
            continue
        key = (result.cycle, result.closed_by.get("location"))
        group = groups.get(key)
        if group is None:
            group = groups[key] = CycleGroup(
                result.cycle, dict(result.closed_by), list(result.steps)
            )
        if result.failed:
            group.failing.append(result.module)
            if group.error is None and result.error:
                group.error = f"{result.error.get('type')}: {result.error.get('message')}"
        else:
            group.tripping.append(result.module)
        if not group.closed_by.get("code") and result.closed_by.get("code"):
            group.closed_by["code"] = result.closed_by["code"]
    return sorted(groups.values(), key=lambda g: (-len(g.failing), -len(g.tripping), g.cycle))


# --------------------------------------------------------------------------- the run


@dataclass(slots=True)
class CheckRun:
    """Everything one ``check`` found."""

    project: Path
    results: list[ModuleResult]
    jobs: int
    seconds: float
    mode: str
    fork: bool = False

    @property
    def cycles(self) -> list[CycleGroup]:
        return group_cycles(self.results)

    @property
    def exit_status(self) -> int:
        bad = any(r.failed or r.error_events() for r in self.results)
        return 1 if bad else 0

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.status] = counts.get(result.status, 0) + 1
        by_rule: dict[str, int] = {}
        for result in self.results:
            for event in result.events:
                by_rule[event["rule"]] = by_rule.get(event["rule"], 0) + 1
        return {
            "modules": len(self.results),
            "ok": counts.get("ok", 0),
            "violations": counts.get("violations", 0),
            "failed": sum(1 for r in self.results if r.failed),
            "by_status": dict(sorted(counts.items())),
            "by_rule": dict(sorted(by_rule.items())),
            "error_events": sum(len(r.error_events()) for r in self.results),
            "jobs": self.jobs,
            "seconds": round(self.seconds, 3),
            "mode": self.mode,
            "fork": self.fork,
            "exit_status": self.exit_status,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": CHECK_SCHEMA,
            "project": str(self.project),
            "summary": self.summary(),
            "cycles": [group.as_dict() for group in self.cycles],
            "modules": [result.as_dict() for result in self.results],
        }


class Progress:
    """One self-overwriting status line on a terminal's stderr; silent otherwise."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total = total
        self.stream = stream
        self.done = 0
        self.failed = 0

    def update(self, result: ModuleResult) -> None:
        self.done += 1
        self.failed += result.failed
        if self.stream is None:
            return
        width = shutil.get_terminal_size((80, 20)).columns
        text = f"[{self.done}/{self.total}] {self.failed} failed  {result.module}"
        self.stream.write("\r" + text[: width - 1].ljust(width - 1))
        self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self.done:
            width = shutil.get_terminal_size((80, 20)).columns
            self.stream.write("\r" + " " * (width - 1) + "\r")
            self.stream.flush()


def check(
    project: Path,
    targets: Sequence[Target],
    *,
    jobs: int,
    timeout: float,
    guard_kwargs: dict[str, Any],
    mode: str,
    progress: TextIO | None = None,
    fork: bool = False,
) -> CheckRun:
    """Import each target first, *jobs* at a time; results in the order of *targets*."""
    started = time.perf_counter()
    meter = Progress(len(targets), progress)
    results: dict[str, ModuleResult] = {}
    lock = threading.Lock()
    server: ForkServer | None = None
    live = _Live()
    with tempfile.TemporaryDirectory(prefix="ssot-guard-check-") as temp:
        workdir = Path(temp)
        if fork:
            server = ForkServer(project, [t.root for t in targets], sys.executable)
        try:
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                futures = [
                    pool.submit(
                        run_one,
                        target,
                        project,
                        workdir,
                        timeout=timeout,
                        guard_kwargs=guard_kwargs,
                        server=server,
                        live=live,
                    )
                    for target in targets
                ]
                try:
                    for future in as_completed(futures):
                        result = future.result()
                        with lock:
                            results[result.module] = result
                        meter.update(result)
                except BaseException:
                    for future in futures:
                        future.cancel()
                    live.kill_all()
                    if server is not None:
                        server.close()
                    raise
                finally:
                    meter.close()
        finally:
            if server is not None:
                server.close()
    ordered = [results[t.name] for t in targets if t.name in results]
    return CheckRun(project, ordered, jobs, time.perf_counter() - started, mode, fork)


# --------------------------------------------------------------------------- rendering


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def render_text(run: CheckRun) -> str:
    """The human report: summary, failures grouped by cycle, other failures, violations."""
    summary = run.summary()
    skipped_count = summary["by_status"].get("skipped", 0)
    lines = [
        f"ssot-guard check: {_plural(summary['modules'], 'module')} imported first, "
        f"{summary['ok']} ok, {summary['failed']} failed, "
        f"{summary['violations']} with violations"
        f"{f', {skipped_count} skipped' if skipped_count else ''} "
        f"(mode {run.mode}, {run.jobs} jobs{', forked' if run.fork else ''}, "
        f"{run.seconds:.1f}s)",
    ]
    cycles = run.cycles
    grouped = {m for g in cycles for m in g.failing}
    for group in cycles:
        arrow = " -> ".join(group.cycle)
        closed = group.closed_by
        lines.append("")
        if group.failing:
            count = len(group.failing)
            verb = "fails" if count == 1 else "fail"
            lines.append(f"{_plural(count, 'entry point')} {verb} because of the cycle {arrow}")
        else:
            count = len(group.tripping)
            verb = "trips" if count == 1 else "trip"
            lines.append(
                f"{_plural(count, 'entry point')} {verb} a rule because of the cycle {arrow}"
            )
        statement = f"  {closed['code']}" if closed.get("code") else ""
        lines.append(f"  closed by {closed.get('location')} in {closed.get('module')}{statement}")
        if closed.get("failed_at"):
            failed = f"  {closed['failed_code']}" if closed.get("failed_code") else ""
            lines.append(f"  fails at {closed['failed_at']}{failed}")
        lines.append(
            f"  (that statement uses {group.cycle[0]} while its body is still executing; "
            "moving it breaks the cycle)"
        )
        if group.steps and closed.get("source") == "traceback":
            width = max(len(str(step["module"])) for step in group.steps)
            lines.append("  path:")
            for step in group.steps:
                code = f"  {step['code']}" if step.get("code") else ""
                lines.append(f"    {str(step['module']).ljust(width)}  {step['location']}{code}")
        elif group.steps:
            chain = " -> ".join(
                f"{s['module']} ({s['location']})" if s.get("location") else str(s["module"])
                for s in group.steps
            )
            lines.append(f"  chain: {chain}")
        if group.error:
            lines.append(f"  error: {group.error}")
        if group.failing:
            lines.append(f"  failing: {', '.join(group.failing)}")
        if group.tripping:
            lines.append(f"  tripping a rule: {', '.join(group.tripping)}")
    others = [r for r in run.results if r.failed and r.module not in grouped]
    if others:
        lines.append("")
        lines.append("Other failures")
        for result in others:
            lines.extend(_failure_lines(result, run.project))
    skipped = [r for r in run.results if r.status == "skipped"]
    if skipped:
        lines.append("")
        lines.append("Skipped (already imported when the guard started: cannot be imported first)")
        lines.append("  " + ", ".join(r.module for r in skipped))
    flagged = [r for r in run.results if r.events]
    if flagged:
        lines.append("")
        lines.append("Violations (by rule, location; entry points that trip it)")
        for line in _violation_lines(flagged):
            lines.append(line)
    lines.append("")
    verdict = "FAILED" if run.exit_status else "passed"
    lines.append(f"check {verdict}")
    return "\n".join(lines) + "\n"


def _failure_lines(result: ModuleResult, project: Path) -> list[str]:
    error = result.error or {}
    head = f"  {result.module}: {result.status}"
    if result.status in ("failed", "exit") and error:
        head += f" {error.get('type')}: {_one_line(str(error.get('message', '')))}"
    lines = [head]
    last = _user_frame(error.get("frames") or [], project)
    if last:
        where = f"{_relative(last.get('file'), project)}:{last.get('line')}"
        code = f"  {last['code']}" if last.get("code") else ""
        lines.append(f"    at {where}{code}")
    for note in error.get("notes") or []:
        lines.append(f"    note: {_one_line(str(note))}")
    if result.hint:
        lines.append(f"    {result.hint}")
    if result.status == "crashed" and result.stderr_tail.strip():
        lines.append(f"    stderr: {_one_line(result.stderr_tail.strip().splitlines()[-1])}")
    return lines


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _violation_lines(results: Sequence[ModuleResult]) -> list[str]:
    merged: dict[tuple[str, str, str | None], tuple[dict[str, Any], list[str]]] = {}
    for result in results:
        for event in result.events:
            key = (event["rule"], event.get("subject", ""), event.get("location"))
            if key not in merged:
                merged[key] = (event, [])
            merged[key][1].append(result.module)
    lines: list[str] = []
    for (rule, subject, location), (event, modules) in sorted(merged.items()):
        lines.append(
            f"  {rule} {_rule_name(rule)} [{event.get('severity')}] {subject} at {location}"
        )
        chain = event.get("chain") or []
        if chain:
            lines.append(f"    chain: {chain_text(chain)}")
        lines.append(f"    from: {', '.join(modules)}")
    return lines


def _rule_name(code: str) -> str:
    rule = BY_CODE.get(code)
    return rule.name if rule is not None else ""


def render_json(run: CheckRun) -> str:
    return json.dumps(run.as_dict(), indent=2) + "\n"


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``check`` options to its sub-parser."""
    parser.description = (
        "Import every first-party module first, each in a fresh interpreter under the\n"
        "guard, and report the modules whose import fails or trips a rule only when they\n"
        "are the entry point (order-dependent import cycles), grouped by cycle with the\n"
        "import statement that closed it."
    )
    parser.epilog = (
        "examples:\n"
        "  ssot-guard check                    # every first-party module of the project\n"
        "  ssot-guard check app --jobs 4       # the modules of package 'app'\n"
        "  ssot-guard check --format json > check.json\n"
        "  ssot-guard check --mode strict --timeout 20 --exclude 'app.scripts.*'\n"
        "  ssot-guard check --fork             # faster: fork children from one interpreter\n"
        "\n"
        "exit status: 0 when every module imported and no rule fired at error severity;\n"
        "1 when a module failed, exited, hung or crashed, or tripped a rule at error\n"
        "severity; 2 for usage errors (unknown package, bad configuration, no modules).\n"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "packages",
        nargs="*",
        metavar="PACKAGE",
        help="packages to check (default: the configured 'packages', else every "
        "first-party package under the project folder)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        help="interpreters run in parallel (default: the number of cores)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds one module may take to import before it is killed "
        f"(default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output (default: text)"
    )
    parser.add_argument(
        "--mode",
        choices=[m for m in MODES if m != "off"],
        default=None,
        help="guard mode in the children (default: the configured mode)",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip modules whose dotted name (or a package of it) matches; adds to the "
        "'check-exclude' setting; repeatable",
    )
    parser.add_argument(
        "--include-tests", action="store_true", help="also check 'tests' folders and test_*.py"
    )
    parser.add_argument(
        "--project",
        type=Path,
        default=None,
        help="project folder (default: the folder of the configuring pyproject.toml, "
        "else the working directory); children run there",
    )
    parser.add_argument(
        "--fork",
        action="store_true",
        help="faster (POSIX): fork each child from one interpreter that has imported "
        "ssot_guard, instead of starting a fresh interpreter per module; the children then "
        "share the standard-library modules ssot_guard loads",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress line on stderr (default: only when stderr is a terminal)",
    )


def _settings(args: argparse.Namespace) -> Settings:
    start = args.project if args.project is not None else Path.cwd()
    return load_settings({}, cwd=start)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled) stops the children like Ctrl-C does.

    Children run in their own sessions (so a module's signals cannot reach the check), so
    they would outlive a parent killed by the default SIGTERM action.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    """Run ``ssot-guard check``; returns the exit status (0 clean, 1 findings, 2 usage)."""
    try:
        settings = _settings(args)
        project = (args.project or Path(settings.project_root)).resolve()
        mode = args.mode or settings.mode
        if mode == "off":
            mode = "warn"
        packages = tuple(args.packages) or settings.packages
        exclude = (*settings.check_exclude, *args.exclude)
        targets = discover(project, packages, include_tests=args.include_tests, exclude=exclude)
    except ConfigError as error:
        print(f"ssot-guard check: {error}", file=sys.stderr)
        return 2
    if not targets:
        print(f"ssot-guard check: no first-party modules found under {project}", file=sys.stderr)
        return 2
    jobs = args.jobs if args.jobs and args.jobs > 0 else (os.cpu_count() or 1)
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    guard_kwargs: dict[str, Any] = {"mode": mode}
    if args.packages and not settings.packages:
        # First-party for the rules: the whole top-level packages named on the command
        # line, so a cycle through a sibling module of a checked one is still reported.
        guard_kwargs["packages"] = sorted({name.split(".")[0] for name in args.packages})
    with _terminate_as_interrupt():
        try:
            outcome = check(
                project,
                targets,
                jobs=jobs,
                timeout=args.timeout,
                guard_kwargs=guard_kwargs,
                mode=mode,
                progress=sys.stderr if show else None,
                fork=bool(args.fork) and hasattr(os, "fork"),
            )
        except KeyboardInterrupt:
            print("ssot-guard check: interrupted; children stopped", file=sys.stderr)
            return 130
    text = render_json(outcome) if args.format == "json" else render_text(outcome)
    sys.stdout.write(text)
    sys.stdout.flush()
    return outcome.exit_status


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ssot_guard._check``: the command without the ``ssot-guard`` front end."""
    parser = argparse.ArgumentParser(prog="ssot-guard check")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
