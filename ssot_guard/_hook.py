"""The ``sys.meta_path`` finder and the loader proxy (the records they fill: ``_records``).

Rules followed here (see NOTES §2): the finder asks only the finders behind it, on a
snapshot of ``sys.meta_path``, forwarding ``path`` and ``target``; it never re-enters the
import system, logs or blocks inside ``find_spec`` (the global import lock is held there);
the loader proxy restores ``__loader__`` and ``__spec__.loader`` before the body runs;
"still executing" is the guard's own bookkeeping; the proxy's frame is cut from the
traceback of a failing import so CPython still strips its importlib frames.
"""

from __future__ import annotations

import sys
from importlib.machinery import ModuleSpec
from importlib.util import LazyLoader
from types import ModuleType
from typing import TYPE_CHECKING, Any

import wrapt

from ._frames import transparent

if TYPE_CHECKING:
    from ._guard import Guard

#: wrapt 2.x calls the plain proxy ``BaseObjectProxy``; 1.x only has ``ObjectProxy``.
_ProxyBase: Any = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)

_LEGACY_FIND = None
if sys.version_info < (3, 12):  # 3.12+ skips finders without find_spec (gh-98040)
    import importlib._bootstrap as _bootstrap

    _LEGACY_FIND = getattr(_bootstrap, "_find_spec_legacy", None)


class LoaderProxy(_ProxyBase):  # type: ignore[misc]
    """Transparent proxy of a loader: records the execution of the module body.

    Built by wrapt's own constructor alone (one per import, SPEC §7 budget): the active
    guard is a class attribute (:func:`set_active_guard`), and only a reload sets
    ``_self_reload`` on the instance.
    """

    _self_guard: Guard | None = None
    _self_reload = False

    # wrapt's C base defines ``__getattr__``, so CPython gives subclasses a getattr hook that
    # calls any other ``__getattribute__`` through a new bound method per read (importlib
    # reads the proxy about six times per import). With the generic one it looks up inline
    # and falls back to wrapt's ``__getattr__`` (the loader's attribute) only on a miss:
    # the same reads, 0.2 % fewer instructions for a cold start on 3.11 (SPEC §7).
    __getattribute__ = object.__getattribute__

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        # Defined here, not forwarded: wrapt forwards an attribute only after the lookup
        # on the proxy has missed, through a call of its __getattr__ (importlib asks twice
        # per import).
        return self.__wrapped__.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        inner = self.__wrapped__
        guard = self._self_guard
        frame = None
        try:
            # Put the original loader back on the module and its spec before the body
            # runs (inline: once per import).
            try:
                namespace = object.__getattribute__(module, "__dict__")
            except Exception:
                namespace = {}
            if type(namespace) is not dict:
                namespace = {}
            spec = namespace.get("__spec__")
            if spec is not None:
                try:
                    if spec.loader is self:
                        spec.loader = inner
                except (AttributeError, TypeError):
                    pass
            loader = namespace.get("__loader__", inner)  # absent: leave it absent
            if loader is self or loader is None:
                namespace["__loader__"] = inner
            if guard is not None:  # else uninstalled since the spec was found
                frame = guard._enter(namespace, spec, module, self._self_reload)
            inner.exec_module(module)
        except BaseException as error:
            # Drop this frame from the traceback: CPython strips consecutive importlib
            # frames, and a foreign frame between them would keep them all visible.
            tb = error.__traceback__
            if tb is not None and tb.tb_frame is sys._getframe():
                error.__traceback__ = tb.tb_next
            if guard is not None:
                if frame is not None:
                    guard._leave(frame, module, error)
                else:  # interrupted inside _enter (KeyboardInterrupt): leave no stale entry
                    guard._abandon(module)
            raise
        if frame is not None:
            guard._leave(frame, module, None)  # type: ignore[union-attr]


transparent(LoaderProxy.exec_module, "loader proxy")


def set_active_guard(guard: Guard | None) -> None:
    """The guard that loader proxies report to (one guard is installed at a time)."""
    LoaderProxy._self_guard = guard


def new_proxy(loader: Any, reload: bool) -> LoaderProxy:
    proxy = LoaderProxy(loader)
    if reload:
        proxy._self_reload = True
    return proxy


def unwrap_loader(loader: Any) -> Any:
    """The original loader behind a proxy (or the object itself)."""
    if type(loader) is LoaderProxy:
        return loader.__wrapped__
    return loader


class GuardFinder:
    """The one finder: delegates to the finders behind it and wraps their loaders.

    Deliberately a plain object without ``__getattr__``: ``importlib.metadata`` and
    ``invalidate_caches`` probe every entry of ``sys.meta_path`` (NOTES P12).
    """

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    def __repr__(self) -> str:
        return "<ssot_guard finder>"

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        guard = self._guard
        state = guard._state
        finding = state.finding
        if state.busy or fullname in finding or not guard._enabled:
            return None
        # A snapshot of the finders behind us (NOTES P2); we are nearly always first.
        meta_path = sys.meta_path
        if meta_path and meta_path[0] is self:
            finders = meta_path[1:]
        else:
            for index, entry in enumerate(meta_path):
                if entry is self:
                    finders = meta_path[index + 1 :]
                    break
            else:
                return None
        finding.add(fullname)
        try:
            spec = None
            if guard._spec_hooks:
                names = guard._spec_names
                if names is None or fullname in names:
                    spec = guard._participant_spec(fullname, path, target)
            if spec is None:
                for finder in finders:
                    find = getattr(finder, "find_spec", None)
                    if find is None:
                        if _LEGACY_FIND is None:
                            continue
                        spec = _LEGACY_FIND(finder, fullname, path)
                    else:
                        spec = find(fullname, path, target)
                    if spec is not None:
                        break
            if spec is None:
                return None
            # Still marked as finding: an internal error here is logged later, never under
            # the global import lock (NOTES P22).
            loader = spec.loader
            if loader is not None and _WRAPPABLE.get(type(loader)):
                # Fast path (the usual file, extension, built-in and frozen loaders).
                try:
                    proxy = LoaderProxy(loader)
                    if target is not None:
                        proxy._self_reload = True
                    spec.loader = proxy
                except Exception as error:
                    guard.internal_error("finder", error)
                return spec
            return _wrap_other(guard, spec, target is not None)
        finally:
            finding.discard(fullname)


#: Loader types known to have ``create_module`` and ``exec_module`` on the class.
_WRAPPABLE: dict[type, bool] = {}


def _wrap_other(guard: Guard, spec: ModuleSpec, reload: bool) -> ModuleSpec:
    """The slow path of :meth:`GuardFinder.find_spec`: namespace packages, lazy and unusual
    loaders, and the first spec of each loader type."""
    try:
        if spec.loader is None and spec.submodule_search_locations is not None:
            guard._record_namespace(spec)
        return wrap_spec(spec, reload)
    except Exception as error:
        guard.internal_error("finder", error)
        return spec


def wrap_spec(spec: ModuleSpec, reload: bool) -> ModuleSpec:
    """Put a :class:`LoaderProxy` in front of the spec's loader where that is safe."""
    loader = spec.loader
    if loader is None or type(loader) is LoaderProxy:
        return spec
    kind = type(loader)
    if kind is not LazyLoader and kind not in _WRAPPABLE:
        # Cache by type only when the class itself has both methods: an instance could
        # carry its own (a module used as a loader), so those are checked every time.
        _WRAPPABLE[kind] = hasattr(kind, "exec_module") and hasattr(kind, "create_module")
    if type(loader) is LazyLoader:
        # A lazy finder: keep the LazyLoader outermost so loading stays deferred; the proxy
        # then sees the real execution when the module is first touched (NOTES P16).
        inner = loader.loader  # type: ignore[attr-defined]
        if hasattr(inner, "exec_module") and hasattr(inner, "create_module"):
            spec.loader = LazyLoader(new_proxy(inner, reload))
        return spec
    if not (hasattr(loader, "exec_module") and hasattr(loader, "create_module")):
        return spec
    spec.loader = new_proxy(loader, reload)
    return spec
