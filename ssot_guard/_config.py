"""Configuration: sources, validation and the immutable settings object (SPEC §5).

Sources, highest first: ``install()`` keyword arguments, the environment
(``SSOT_GUARD_MODE``, ``SSOT_GUARD_CONFIG``), ``[tool.ssot_guard]`` in the nearest
``pyproject.toml`` that has the table (walking up from the working directory, stopping at
the repository root), defaults. Every bad value raises :class:`ConfigError` naming the
source, the key and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ._errors import ConfigError, FrozenValue
from ._errors import set_field as _set

if TYPE_CHECKING:
    import datetime as _dt
from ._rules import BY_NAME, RULES, SEVERITIES, lookup

MODES: Final = ("off", "warn", "strict")
MODE_PRESETS: Final = {"off": "off", "warn": "warn", "strict": "error"}

ENV_MODE: Final = "SSOT_GUARD_MODE"
ENV_CONFIG: Final = "SSOT_GUARD_CONFIG"
KWARG_SOURCE: Final = "install() argument"
DEFAULT_SOURCE: Final = "default"


def is_dotted(value: str) -> bool:
    r"""Whether ``^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`` matches *value*.

    Exactly that regular expression (``$`` also matches before one final newline), without
    compiling a pattern at import: about 0.2 ms of start-up (SPEC §7).
    """
    if value.endswith("\n"):
        value = value[:-1]
    return value.isascii() and all(part.isidentifier() for part in value.split("."))


# Keys accepted in [tool.ssot_guard] and as install() keyword arguments.
SETTING_KEYS: Final = (
    "mode",
    "test_mode",
    "packages",
    "rules",
    "canonical",
    "shims",
    "report",
    "deep",
    "check_exclude",
)
KWARG_ONLY_KEYS: Final = ("logger", "config")


# The value classes below are written out rather than ``@dataclass(frozen=True,
# slots=True)``: creating those three classes cost about 1.7 ms at import (SPEC §7). Same
# constructors, ``==``, ``hash``, ``repr``, immutability (``FrozenInstanceError``) and
# pickling as the dataclasses they replace.


class CanonicalSpec(FrozenValue):
    """Options of one canonical class (SPEC §4)."""

    __slots__ = ("allow", "path", "singleton")
    __match_args__ = ("path", "allow", "singleton")

    path: str
    allow: tuple[str, ...]
    singleton: bool

    def __init__(self, path: str, allow: tuple[str, ...] = (), singleton: bool = False) -> None:
        _set(self, "path", path)
        _set(self, "allow", allow)
        _set(self, "singleton", singleton)

    @property
    def module(self) -> str:
        return self.path.rpartition(".")[0]

    @property
    def qualname(self) -> str:
        return self.path.rpartition(".")[2]


class ShimSpec(FrozenValue):
    """One compat shim: ``old`` dotted name served by ``replacement`` (SPEC §4)."""

    __slots__ = ("message", "old", "replacement", "until")
    __match_args__ = ("old", "replacement", "until", "message")

    old: str
    replacement: str
    until: _dt.date | None
    message: str | None

    def __init__(
        self,
        old: str,
        replacement: str,
        until: _dt.date | None = None,
        message: str | None = None,
    ) -> None:
        _set(self, "old", old)
        _set(self, "replacement", replacement)
        _set(self, "until", until)
        _set(self, "message", message)

    @property
    def module(self) -> str:
        return self.old.rpartition(".")[0]

    @property
    def attribute(self) -> str:
        return self.old.rpartition(".")[2]


#: Default of the ``Settings`` mappings: a new empty read-only mapping each (a dataclass
#: ``default_factory``).
_EMPTY: Any = object()
_SETTINGS_FIELDS: Final = (*SETTING_KEYS, "project_root", "config_file", "sources")


class Settings(FrozenValue):
    """The validated, effective configuration of one guard."""

    __slots__ = (
        "canonical",
        "check_exclude",
        "config_file",
        "deep",
        "mode",
        "packages",
        "project_root",
        "report",
        "rules",
        "shims",
        "sources",
        "test_mode",
    )
    __match_args__ = _SETTINGS_FIELDS

    mode: str
    test_mode: str
    packages: tuple[str, ...]
    rules: Mapping[str, str]
    canonical: Mapping[str, CanonicalSpec]
    shims: Mapping[str, ShimSpec]
    report: str | None
    deep: bool
    check_exclude: tuple[str, ...]
    project_root: str
    config_file: str | None
    sources: Mapping[str, str]

    def __init__(
        self,
        mode: str = "warn",
        test_mode: str = "strict",
        packages: tuple[str, ...] = (),
        rules: Mapping[str, str] = _EMPTY,
        canonical: Mapping[str, CanonicalSpec] = _EMPTY,
        shims: Mapping[str, ShimSpec] = _EMPTY,
        report: str | None = None,
        deep: bool = False,
        check_exclude: tuple[str, ...] = (),
        project_root: str = ".",
        config_file: str | None = None,
        sources: Mapping[str, str] = _EMPTY,
    ) -> None:
        _set(self, "mode", mode)
        _set(self, "test_mode", test_mode)
        _set(self, "packages", packages)
        _set(self, "rules", MappingProxyType({}) if rules is _EMPTY else rules)
        _set(self, "canonical", MappingProxyType({}) if canonical is _EMPTY else canonical)
        _set(self, "shims", MappingProxyType({}) if shims is _EMPTY else shims)
        _set(self, "report", report)
        _set(self, "deep", deep)
        _set(self, "check_exclude", check_exclude)
        _set(self, "project_root", project_root)
        _set(self, "config_file", config_file)
        _set(self, "sources", MappingProxyType({}) if sources is _EMPTY else sources)

    def severity(self, code: str) -> str:
        """Effective severity of a rule: its override, else the mode preset."""
        return self.rules.get(code) or MODE_PRESETS[self.mode]

    def severities(self) -> dict[str, str]:
        return {rule.code: self.severity(rule.code) for rule in RULES}

    def with_mode(self, mode: str, source: str) -> Settings:
        """A copy with another mode (used by the pytest plugin and the CLI)."""
        _check_choice(mode, MODES, source, "mode")
        sources = dict(self.sources)
        sources["mode"] = source
        return _replace(self, mode=mode, sources=MappingProxyType(sources))

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, as it appears in reports."""
        return {
            "mode": self.mode,
            "test_mode": self.test_mode,
            "packages": list(self.packages),
            "rules": self.severities(),
            "canonical": {
                path: {"allow": list(spec.allow), "singleton": spec.singleton}
                for path, spec in sorted(self.canonical.items())
            },
            "shims": {
                old: {
                    "replacement": spec.replacement,
                    "until": spec.until.isoformat() if spec.until else None,
                    "message": spec.message,
                }
                for old, spec in sorted(self.shims.items())
            },
            "report": self.report,
            "deep": self.deep,
            "check_exclude": list(self.check_exclude),
            "project_root": self.project_root,
            "config_file": self.config_file,
        }

    def comparable(self) -> dict[str, Any]:
        """What must agree for a second ``install()`` to reuse the active guard."""
        data = self.as_dict()
        data.pop("config_file")
        data["rules"] = dict(sorted(self.rules.items()))  # overrides: the mode is its own key
        return data


def _replace(settings: Settings, **changes: Any) -> Settings:
    values = {name: getattr(settings, name) for name in _SETTINGS_FIELDS}
    values.update(changes)
    return Settings(**values)


# --------------------------------------------------------------------------- sources


def _load_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only when a file is read: start-up time counts (SPEC §7)

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def find_pyproject(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest ``pyproject.toml`` with a ``[tool.ssot_guard]`` table.

    Walks up from *start* and stops at the repository root (a folder holding ``.git`` or
    ``.hg``), like mypy and black. Files without the table are skipped, so a nested
    package's own pyproject does not hide the project's configuration.
    """
    current = start.resolve()
    for folder in (current, *current.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            data = _load_toml(candidate)
            table = data.get("tool", {}).get("ssot_guard")
            if table is not None:
                if not isinstance(table, dict):
                    raise ConfigError(
                        f"{candidate}: key 'tool.ssot_guard': expected a table, got {_kind(table)}"
                    )
                return candidate, table
        if (folder / ".git").exists() or (folder / ".hg").exists():
            return None
    return None


def _config_file_table(path: Path) -> dict[str, Any]:
    data = _load_toml(path)
    tool = data.get("tool")
    if isinstance(tool, dict) and "ssot_guard" in tool:
        table = tool["ssot_guard"]
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: key 'tool.ssot_guard': expected a table")
        return table
    return data


# --------------------------------------------------------------------------- validation


def _kind(value: object) -> str:
    return type(value).__name__


def _suggest(key: str, choices: Any) -> str:
    import difflib  # error path only

    close = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_choice(value: object, choices: tuple[str, ...], source: str, key: str) -> str:
    if not isinstance(value, str) or value not in choices:
        hint = _suggest(value, choices) if isinstance(value, str) else ""
        raise ConfigError(
            f"{source}: key {key!r}: expected one of {', '.join(map(repr, choices))}, "
            f"got {value!r}{hint}"
        )
    return value


def _check_dotted(value: object, source: str, key: str, *, what: str) -> str:
    if not isinstance(value, str) or not is_dotted(value):
        raise ConfigError(
            f"{source}: key {key!r}: expected {what} (a dotted Python path such as "
            f"'app.db.manager.DatabaseManager'), got {value!r}"
        )
    return value


def _check_str_list(value: object, source: str, key: str, *, dotted: bool) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"{source}: key {key!r}: expected a list of strings, got {_kind(value)}")
    items: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ConfigError(
                f"{source}: key '{key}[{index}]': expected a string, got {_kind(item)}"
            )
        if dotted:
            _check_dotted(item, source, f"{key}[{index}]", what="a module name")
        items.append(item)
    return tuple(items)


def _check_bool(value: object, source: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{source}: key {key!r}: expected true or false, got {value!r}")
    return value


def _check_table(value: object, source: str, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: key {key!r}: expected a table, got {_kind(value)}")
    return value


def _rules(value: object, source: str, key: str) -> dict[str, str]:
    table = _check_table(value, source, key)
    result: dict[str, str] = {}
    for name, severity in table.items():
        rule = lookup(str(name))
        if rule is None:
            choices = [*BY_NAME, *(r.code for r in RULES)]
            raise ConfigError(
                f"{source}: key '{key}.{name}': unknown rule; expected a rule name or code "
                f"such as 'import-cycle' or 'SSOT002'{_suggest(str(name), choices)}"
            )
        result[rule.code] = _check_choice(severity, SEVERITIES, source, f"{key}.{name}")
    return result


_CANONICAL_OPTIONS: Final = ("allow", "singleton")


def _canonical(value: object, source: str, key: str) -> dict[str, CanonicalSpec]:
    table = _check_table(value, source, key)
    result: dict[str, CanonicalSpec] = {}
    for path, options in table.items():
        _check_dotted(path, source, f"{key}.{path}", what="a class path 'module.Class'")
        if "." not in path:
            raise ConfigError(
                f"{source}: key '{key}.{path}': expected a full class path "
                f"'module.Class', got a bare name"
            )
        options = _check_table(options, source, f"{key}.{path}")
        for option in options:
            if option not in _CANONICAL_OPTIONS:
                raise ConfigError(
                    f"{source}: key '{key}.{path}.{option}': unknown option; expected "
                    f"'allow' or 'singleton'{_suggest(option, _CANONICAL_OPTIONS)}"
                )
        allow = _check_str_list(options.get("allow", []), source, f"{key}.{path}.allow",
                                dotted=True)  # fmt: skip
        singleton = _check_bool(options.get("singleton", False), source,
                                f"{key}.{path}.singleton")  # fmt: skip
        result[path] = CanonicalSpec(path=path, allow=allow, singleton=singleton)
    return result


_SHIM_OPTIONS: Final = ("replacement", "until", "message")


def _shims(value: object, source: str, key: str) -> dict[str, ShimSpec]:
    table = _check_table(value, source, key)
    result: dict[str, ShimSpec] = {}
    for old, target in table.items():
        where = f"{key}.{old}"
        _check_dotted(old, source, where, what="the old name 'module.name'")
        if "." not in old:
            raise ConfigError(f"{source}: key {where!r}: expected 'module.name', got a bare name")
        if isinstance(target, str):
            options: Mapping[str, Any] = {"replacement": target}
        else:
            options = _check_table(target, source, where)
        for option in options:
            if option not in _SHIM_OPTIONS:
                raise ConfigError(
                    f"{source}: key '{where}.{option}': unknown option; expected one of "
                    f"'replacement', 'until', 'message'{_suggest(option, _SHIM_OPTIONS)}"
                )
        if "replacement" not in options:
            raise ConfigError(f"{source}: key '{where}': missing 'replacement'")
        replacement = _check_dotted(options["replacement"], source, f"{where}.replacement",
                                    what="the replacement's dotted name")  # fmt: skip
        until = options.get("until")
        if until is not None:
            until = _date(until, source, f"{where}.until")
        message = options.get("message")
        if message is not None and not isinstance(message, str):
            raise ConfigError(f"{source}: key '{where}.message': expected a string")
        result[old] = ShimSpec(old=old, replacement=replacement, until=until, message=message)
    return result


def _date(value: object, source: str, key: str) -> _dt.date:
    import datetime as _dt  # only for a shim's ``until``: start-up time counts (SPEC §7)

    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"{source}: key {key!r}: expected a date YYYY-MM-DD, got {value!r}")


def _normalise_key(key: str) -> str:
    return key.replace("-", "_")


def _validate(table: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Validate one source's table into setting values (unset keys are absent)."""
    values: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = _normalise_key(str(raw_key))
        if key not in SETTING_KEYS:
            spelled = [k.replace("_", "-") for k in SETTING_KEYS] + list(SETTING_KEYS)
            raise ConfigError(
                f"{source}: unknown key {raw_key!r}; expected one of "
                f"{', '.join(k.replace('_', '-') for k in SETTING_KEYS)}"
                f"{_suggest(str(raw_key), spelled)}"
            )
        if key == "mode":
            values[key] = _check_choice(value, MODES, source, raw_key)
        elif key == "test_mode":
            values[key] = _check_choice(value, MODES, source, raw_key)
        elif key == "packages":
            values[key] = _check_str_list(value, source, raw_key, dotted=True)
        elif key == "check_exclude":
            values[key] = _check_str_list(value, source, raw_key, dotted=False)
        elif key == "rules":
            values[key] = _rules(value, source, raw_key)
        elif key == "canonical":
            values[key] = _canonical(value, source, raw_key)
        elif key == "shims":
            values[key] = _shims(value, source, raw_key)
        elif key == "report":
            if value is not None and (not isinstance(value, (str, os.PathLike)) or not value):
                raise ConfigError(f"{source}: key {raw_key!r}: expected a file path, got {value!r}")
            values[key] = None if value is None else os.fspath(value)
        elif key == "deep":
            values[key] = _check_bool(value, source, raw_key)
    return values


# --------------------------------------------------------------------------- loading


def _file_layer(path: Path, how: str) -> tuple[str, dict[str, Any]]:
    """An explicit TOML file's layer; its errors name the file and how it was given."""
    return str(path), _validate(_config_file_table(path), f"{path} ({how})")


def load_settings(
    kwargs: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Settings:
    """Merge and validate every configuration source into :class:`Settings`."""
    kwargs = dict(kwargs or {})
    environ = os.environ if environ is None else environ
    start = Path(cwd) if cwd is not None else Path.cwd()
    layers: list[tuple[str, dict[str, Any]]] = []

    explicit = kwargs.pop("config", None)
    env_config = environ.get(ENV_CONFIG)
    env_file = Path(env_config) if env_config else None
    arg_file = Path(os.fspath(explicit)) if explicit is not None else None
    named = [file for file in (env_file, arg_file) if file is not None]  # lowest first
    # An explicit file layers over the pyproject table (a staging file that sets the mode
    # keeps the repository's shims); the project stays where that table is. A pyproject.toml
    # named explicitly (the pytest plugin names the one at its rootdir) is that table.
    found = None
    if not any(file.name == "pyproject.toml" for file in named):
        found = find_pyproject(start)
    if found is not None:
        layers.append((str(found[0]), _validate(found[1], str(found[0]))))
    if env_file is not None:
        layers.append(_file_layer(env_file, f"from {ENV_CONFIG}"))
    env_mode = environ.get(ENV_MODE)
    if env_mode:
        value = _check_choice(env_mode.strip().lower(), MODES, f"environment {ENV_MODE}", "mode")
        layers.append((f"environment {ENV_MODE}", {"mode": value}))
    if arg_file is not None:
        layers.append(_file_layer(arg_file, "install() argument 'config'"))
    top = named[-1] if named else found[0] if found is not None else None
    config_file = str(top) if top is not None else None
    if found is not None:
        project_root = found[0].parent
    else:
        project_root = named[-1].resolve().parent if named else start.resolve()
    for key in list(kwargs):
        if key in KWARG_ONLY_KEYS:
            kwargs.pop(key)
    layers.append((KWARG_SOURCE, _validate(kwargs, KWARG_SOURCE)))

    merged: dict[str, Any] = {}
    sources: dict[str, str] = {key: DEFAULT_SOURCE for key in SETTING_KEYS}
    for source, values in layers:
        for key, value in values.items():
            if key == "rules":
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
            sources[key] = source
    return Settings(
        mode=merged.get("mode", "warn"),
        test_mode=merged.get("test_mode", "strict"),
        packages=merged.get("packages", ()),
        rules=MappingProxyType(merged.get("rules", {})),
        canonical=MappingProxyType(merged.get("canonical", {})),
        shims=MappingProxyType(merged.get("shims", {})),
        report=merged.get("report"),
        deep=merged.get("deep", False),
        check_exclude=merged.get("check_exclude", ()),
        project_root=str(project_root),
        config_file=config_file,
        sources=MappingProxyType(sources),
    )
