"""Compat shims for removed and moved names: SSOT006 compat-shim-used (SPEC §4).

A shim maps an old dotted name to its replacement (``settings.shims``). Two kinds:

* **Names** (``app.db.session.get_db_session_factory``): when the old module is loaded
  (already at install, or later when its body has run) and lacks the name, a PEP 562
  ``__getattr__`` is installed on that module only. ``from m import old``, ``m.old`` and
  ``getattr(m, "old")`` then return the replacement, resolved (imported) on first use,
  never at install time (that could create new cycles), and record SSOT006 at the user's
  line. A module that defines the name itself is left alone.
* **Module paths** (``app.database`` = ``app.db``): when ``import app.database`` reaches
  the finder and no real finder behind the guard can find it, the participant serves a
  spec whose loader imports the replacement and puts it in ``sys.modules`` under the old
  name. (The same key also works as an attribute of the parent: ``from app import
  database``.) CPython serves later imports of that path from ``sys.modules`` without
  asking a finder, so only the first import site in a process is reported for this kind.

``strict`` (``error`` severity) and expired shims (``until`` before today's date at
install) raise instead: :class:`GuardImportError` for ``from m import old`` and
``import old.path``, :class:`GuardAttributeError` for attribute reads. An unresolvable
replacement raises :class:`GuardImportError` naming both names, in every mode.
"""

from __future__ import annotations

import importlib
import sys
import threading
import weakref
from importlib.machinery import ModuleSpec
from types import CodeType, FrameType, ModuleType
from typing import TYPE_CHECKING, Any, Final

try:  # see AliasLoader
    from importlib._abc import Loader
except ImportError:  # pragma: no cover - a Python that moved the private module
    from importlib.abc import Loader

from .._config import ShimSpec
from .._errors import GuardAttributeError, GuardImportError, SSOTGuardError
from .._events import Event
from .._frames import is_internal
from .._participant import Participant
from .._records import module_dict
from ._shims_objects import (
    MISSING,
    hand_out,
    is_fromlist_probe,
    is_import_from,
    make_getattr,
)

if TYPE_CHECKING:
    from .._guard import Guard
    from .._records import ExecFrame

CODE: Final = "SSOT006"
#: Call sites remembered per shim for the repeat fast path (bounded for ``exec``'d code).
MAX_SITES: Final = 512


# ``Shim`` and ``_Attached`` are written out rather than ``@dataclass(eq=False)``: class
# creation by the decorator costs about 0.2 ms each at import (SPEC §7).


class Shim:
    """Runtime state of one configured shim (compared by identity)."""

    __slots__ = ("expired", "handed", "sites", "spec", "status")

    spec: ShimSpec
    expired: bool
    #: ``pending`` (old module not loaded yet), ``active``, ``defined`` (the module
    #: defines the name itself: the shim does nothing), ``alias`` (served as a module).
    status: str
    #: The object handed out, built on first use.
    handed: Any
    #: Call sites already reported: (id of the code object, instruction offset) ->
    #: (the code object, kept alive so its id stays unique; the stored event).
    sites: dict[tuple[int, int], tuple[CodeType, Event]]

    def __init__(
        self,
        spec: ShimSpec,
        expired: bool,
        status: str = "pending",
        handed: Any = MISSING,
        sites: dict[tuple[int, int], tuple[CodeType, Event]] | None = None,
    ) -> None:
        self.spec = spec
        self.expired = expired
        self.status = status
        self.handed = handed
        self.sites = {} if sites is None else sites

    def __repr__(self) -> str:
        return (
            f"{type(self).__qualname__}(spec={self.spec!r}, expired={self.expired!r}, "
            f"status={self.status!r}, handed={self.handed!r}, sites={self.sites!r})"
        )

    @property
    def old(self) -> str:
        return self.spec.old

    @property
    def replacement(self) -> str:
        return self.spec.replacement

    @property
    def deprecation(self) -> str:
        """PEP 702 message: names only, stable."""
        text = f"{self.old} is deprecated: use {self.replacement} instead"
        if self.spec.message:
            text += f" ({self.spec.message})"
        return text

    @property
    def event_message(self) -> str:
        text = f"'{self.old}' was used through a compat shim; use '{self.replacement}' instead"
        if self.spec.message:
            text += f" ({self.spec.message})"
        return text


class _Attached:
    """A module that received a ``__getattr__`` from us, and what it had before."""

    __slots__ = ("dispatcher", "module", "original", "table")

    def __init__(
        self,
        module: weakref.ref[ModuleType],
        dispatcher: Any,
        original: Any,
        table: dict[str, Shim] | None = None,
    ) -> None:
        self.module = module
        self.dispatcher = dispatcher
        self.original = original
        self.table: dict[str, Shim] = {} if table is None else table

    def __repr__(self) -> str:
        return (
            f"{type(self).__qualname__}(module={self.module!r}, dispatcher={self.dispatcher!r}, "
            f"original={self.original!r}, table={self.table!r})"
        )


class _Resolving(threading.local):
    def __init__(self) -> None:
        self.names: set[str] = set()


# ``Loader`` is ``importlib.abc.Loader``, defined in ``importlib._abc`` (3.10+): importing it
# from there spares start-up ``importlib.abc``, which imports ``importlib.resources``,
# ``tempfile`` and ``shutil`` (~5 ms on 3.11 when nothing else needs them, e.g. with
# wrapt 1.x; SPEC §7). A Python without the private module gets the public one.
class AliasLoader(Loader):
    """Loader of an old module path: the replacement module stands in for it."""

    def __init__(self, participant: CompatShims, shim: Shim) -> None:
        self._participant = participant
        self._shim = shim

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        try:
            self._participant._alias_exec(self._shim, module, sys._getframe(1))
        except SSOTGuardError as error:
            # Drop the guard's frames; this one carries importlib's file name, so
            # CPython trims it from import tracebacks like its own (import.c
            # ``remove_importlib_frames``): the user sees their import statement only.
            raise error.with_traceback(None)  # noqa: B904

    def __repr__(self) -> str:
        return f"<ssot_guard compat shim {self._shim.old!r} -> {self._shim.replacement!r}>"


AliasLoader.exec_module.__code__ = AliasLoader.exec_module.__code__.replace(
    co_filename="<frozen importlib._bootstrap_external>"
)


class CompatShims(Participant):
    """Serves removed and moved names from their replacements and reports each use."""

    feature = "compat-shims"

    def __init__(self, guard: Guard) -> None:
        super().__init__(guard)
        today = None
        self._shims: dict[str, Shim] = {}
        self._by_module: dict[str, dict[str, Shim]] = {}
        for old, spec in guard.settings.shims.items():
            expired = False
            if spec.until is not None:
                if today is None:
                    # A date was configured, so ``datetime`` is loaded: no import at start-up.
                    import datetime

                    today = datetime.date.today()
                expired = today > spec.until
            shim = Shim(spec=spec, expired=expired)
            self._shims[old] = shim
            self._by_module.setdefault(spec.module, {})[spec.attribute] = shim
        #: id(module) -> what we attached to it (several module objects may have carried
        #: the same name: a module deleted from ``sys.modules`` and imported again).
        self._attached: dict[int, _Attached] = {}
        #: Old module paths we put in ``sys.modules`` -> the replacement module.
        self._aliased: dict[str, ModuleType] = {}
        #: ids of the blank modules created for alias specs (their body is ours).
        self._alias_blanks: set[int] = set()
        #: The finder asks find_spec only about old names (a dict lookup per import).
        self.spec_names = self._shims
        self._resolving = _Resolving()
        # The guard's live severity table (the repeat fast path reads it directly;
        # ``set_severity`` and ``severities()`` update this same dict).
        self._severities = guard._severity

    # ------------------------------------------------------------------ hooks

    def install(self) -> None:
        for name in self._by_module:
            module = sys.modules.get(name)
            if isinstance(module, ModuleType):
                self._attach(name, module)

    def uninstall(self) -> None:
        for attached in self._attached.values():
            module = attached.module()
            if module is None:
                continue
            namespace = module_dict(module)
            if namespace.get("__getattr__") is not attached.dispatcher:
                continue  # someone replaced it since: not ours to touch any more
            if attached.original is MISSING:
                del namespace["__getattr__"]
            else:
                namespace["__getattr__"] = attached.original
        self._attached.clear()
        for name, target in self._aliased.items():
            if sys.modules.get(name) is target:
                del sys.modules[name]
            parent_name, _, child = name.rpartition(".")
            parent = sys.modules.get(parent_name) if parent_name else None
            if isinstance(parent, ModuleType):
                namespace = module_dict(parent)
                if namespace.get(child) is target:
                    del namespace[child]
        self._aliased.clear()
        self._alias_blanks.clear()

    def uses(self, hook: str) -> bool:
        """No shims configured: no hook has anything to do (SPEC §7 budget)."""
        return bool(self._shims)

    def find_spec(
        self, fullname: str, path: object, target: ModuleType | None
    ) -> ModuleSpec | None:
        # Under the global import lock: dictionary lookups and the finders' own lookups.
        shim = self._shims.get(fullname)
        if shim is None or target is not None:
            return None
        if self._real_module(fullname, path):
            return None  # the old module still exists: not an alias
        return ModuleSpec(
            fullname, AliasLoader(self, shim), origin=f"compat shim -> {shim.replacement}"
        )

    def after_exec(self, frame: ExecFrame, module: ModuleType, error: BaseException | None) -> None:
        if self._alias_blanks and id(module) in self._alias_blanks:
            self._alias_blanks.discard(id(module))  # our alias body, not a real module
            return
        name = frame.name
        if error is not None or name not in self._by_module:
            return
        current = sys.modules.get(name)
        self._attach(name, current if isinstance(current, ModuleType) else module)

    def summary(self) -> dict[str, Any]:
        """Per-shim status for the report summary."""
        return {
            "shims": {
                old: {
                    "replacement": shim.replacement,
                    "status": "expired" if shim.expired else shim.status,
                }
                for old, shim in sorted(self._shims.items())
            }
        }

    def _real_module(self, fullname: str, path: object) -> bool:
        """Whether a finder behind the guard's finds *fullname* (never re-enters imports)."""
        finder = self.guard.finder
        meta_path = list(sys.meta_path)
        for index, entry in enumerate(meta_path):
            if entry is finder:
                meta_path = meta_path[index + 1 :]
                break
        for entry in meta_path:
            find = getattr(entry, "find_spec", None)
            if find is None:
                continue
            try:
                if find(fullname, path, None) is not None:
                    return True
            except Exception:
                return True  # that finder fails on it: let the real import say so
        return False

    # ------------------------------------------------------------------ attaching

    def _attach(self, name: str, module: ModuleType) -> None:
        namespace = module_dict(module)
        if not namespace:
            return
        table: dict[str, Shim] = {}
        path = namespace.get("__path__")
        for attribute, shim in self._by_module[name].items():
            if attribute in namespace or (path is not None and self._real_module(shim.old, path)):
                # The module defines the name, or it is a real submodule of a package
                # (``from package import old`` must import it): the shim does nothing.
                shim.status = "defined"
            else:
                table[attribute] = shim
                if shim.status == "pending":
                    shim.status = "active"
        if not table:
            return  # the module defines every old name itself: nothing to do
        current = namespace.get("__getattr__", MISSING)
        known = self._attached.get(id(module))
        if known is not None and current is known.dispatcher and known.module() is module:
            return
        ref = weakref.ref(module)
        dispatcher = make_getattr(table, self._use, ref, current)
        namespace["__getattr__"] = dispatcher
        self._attached[id(module)] = _Attached(ref, dispatcher, current, table)

    # ------------------------------------------------------------------ using a shim

    def _use(self, shim: Shim, frame: FrameType) -> Any:
        """The old name was read; *frame* is the frame that read it."""
        known = shim.sites.get((id(frame.f_code), frame.f_lasti))
        if known is not None:
            # Fast path: a repeat at a reported call site, same severity, resolved.
            event = known[1]
            handed = shim.handed
            if event.severity == self._severities[CODE] and handed is not MISSING:
                self.guard.recount(event)
                return handed
        if is_fromlist_probe(frame):
            # ``hasattr`` probe of ``from package import old``: answer "present" without
            # reporting or resolving; the statement's own read follows at once.
            return None
        guard = self.guard
        severity = guard.severity(CODE)
        refuse = shim.expired or (severity == "error" and not guard.tolerated(CODE, shim.old))
        if severity != "off" and self.enabled:
            try:
                if refuse:
                    self._record(shim, frame, severity)
                else:
                    self._record_site(shim, frame, severity)
            except Warning:
                raise  # ``-W error``: the warning is the user's exception at this line
            except Exception as error:
                # A bug in the guard never breaks the user's read: report it once,
                # stop reporting, keep serving the replacement.
                guard.internal_error(self.feature, error)
        if refuse:
            raise self._refusal(shim, is_import_from(frame))
        handed = shim.handed
        if handed is MISSING:
            handed = self._resolve(shim)
        return handed

    def _record_site(self, shim: Shim, frame: FrameType, severity: str) -> None:
        """Record a use; a repeat at a known call site only counts (SPEC §7: < 2 µs).

        The location of a read made directly by user code is a function of the reading
        frame's code object and instruction offset, so those key the stored event; reads
        made through internal frames take the full path (their user frame varies).
        """
        code = frame.f_code
        if is_internal(code.co_filename):
            self._record(shim, frame, severity)
            return
        site = (id(code), frame.f_lasti)
        known = shim.sites.get(site)
        if known is not None and known[1].severity == severity:
            self.guard.recount(known[1])
            return
        event = self._record(shim, frame, severity)
        if event is not None and len(shim.sites) < MAX_SITES:
            shim.sites[site] = (code, event)

    def _record(self, shim: Shim, frame: FrameType, severity: str) -> Event | None:
        if severity == "off":
            return None
        return self.guard.violation(
            CODE,
            subject=shim.old,
            message=shim.event_message,
            frame=frame,
            replacement=shim.replacement,
            until=shim.spec.until.isoformat() if shim.spec.until else None,
            expired=shim.expired,
        )

    def _refusal(self, shim: Shim, importing: bool) -> GuardImportError | GuardAttributeError:
        module, _, attribute = shim.old.rpartition(".")
        if shim.expired:
            assert shim.spec.until is not None
            why = f"its compat shim expired after {shim.spec.until.isoformat()}"
        else:
            why = "it was removed (SSOT006 compat-shim-used is an error in this mode)"
        tail = f"; use '{shim.replacement}' instead"
        if shim.spec.message:
            tail += f" ({shim.spec.message})"
        if importing:
            return GuardImportError(
                f"cannot import name '{attribute}' from '{module}': {why}{tail}", name=module
            )
        return GuardAttributeError(
            f"module '{module}' has no attribute '{attribute}': {why}{tail}",
            name=attribute,
            obj=sys.modules.get(module),
        )

    def _resolve(self, shim: Shim) -> Any:
        """Import the replacement now (outside ``find_spec``) and build what is handed out."""
        names = self._resolving.names
        if shim.old in names:
            raise GuardImportError(
                f"compat shim '{shim.old}' cannot resolve its replacement "
                f"'{shim.replacement}': the shims refer to each other"
            )
        names.add(shim.old)
        try:
            target = resolve_dotted(shim.replacement)
        except (ImportError, AttributeError) as error:
            raise GuardImportError(
                f"compat shim '{shim.old}' cannot resolve its replacement "
                f"'{shim.replacement}' ({type(error).__name__})",
                name=shim.replacement.rpartition(".")[0] or shim.replacement,
            ) from error
        finally:
            names.discard(shim.old)
        handed = hand_out(target, shim.deprecation)
        shim.handed = handed
        return handed

    # ------------------------------------------------------------------ module aliases

    def _alias_exec(self, shim: Shim, module: ModuleType, frame: FrameType) -> None:
        """Body of an old module path: import the replacement and stand it in."""
        self._alias_blanks.add(id(module))
        guard = self.guard
        severity = guard.severity(CODE)
        if shim.expired or (severity == "error" and not guard.tolerated(CODE, shim.old)):
            self._record(shim, frame, severity)
            if shim.expired:
                assert shim.spec.until is not None
                why = f"its compat shim expired after {shim.spec.until.isoformat()}"
            else:
                why = "it was removed (SSOT006 compat-shim-used is an error in this mode)"
            raise GuardImportError(
                f"No module named '{shim.old}': {why}; use '{shim.replacement}' instead",
                name=shim.old,
            )
        self._record(shim, frame, severity)
        target = self._resolve(shim)
        if not isinstance(target, ModuleType):
            # ``import pkg.old`` for a shim whose replacement is not a module: the same
            # error as without the guard.
            raise ModuleNotFoundError(f"No module named '{shim.old}'", name=shim.old)
        shim.status = "alias"
        sys.modules[shim.old] = target
        self._aliased[shim.old] = target


def resolve_dotted(name: str) -> Any:
    """Import the longest module prefix of *name*, then read the rest as attributes."""
    parts = name.split(".")
    deepest: ModuleNotFoundError | None = None
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            target: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            missing = error.name or ""
            if module_name == missing or module_name.startswith(missing + "."):
                # This prefix is no module: try a shorter one. Remember the first miss
                # below a found package ("No module named 'app.db.nowhere'").
                if deepest is None:
                    deepest = error
                continue
            raise
        try:
            for attribute in parts[cut:]:
                target = getattr(target, attribute)
        except AttributeError:
            if deepest is not None and cut < len(parts) - 1:
                raise deepest from None
            raise
        return target
    raise deepest or ModuleNotFoundError(f"No module named '{parts[0]}'", name=parts[0])
