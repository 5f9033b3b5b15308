"""The baseline (ratchet) file of known violations, used by the pytest plugin (SPEC §9).

A fingerprint is rule + subject + the name concerned (the rule's ``attribute`` field, for
the import rules whose subject is a module: two names missing from one module are two
violations) + the module whose code triggered it (a new module using a removed name or a
duplicate class is a new violation) + the chain's module names. It holds no line numbers
and no file locations, so unrelated edits do not churn the file. The file is sorted, indented JSON
(merge-friendly, like mypy-baseline's); each entry may carry a ``reason`` that survives
``--ssot-guard-update-baseline``. Anything unexpected in the file is a
:class:`BaselineError` naming the file and the problem: a hand-broken baseline must be
fixed by a person, never silently rewritten.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ._rules import BY_CODE, lookup

SCHEMA: Final = "ssot_guard.baseline/1"
DEFAULT_NAME: Final = ".ssot-guard-baseline.json"

#: ``(rule code, subject, attribute or "", triggering module or "", modules of the chain)``
Fingerprint = tuple[str, str, str, str, tuple[str, ...]]

_ENTRY_KEYS: Final = ("rule", "name", "subject", "attribute", "module", "chain", "reason")


class BaselineError(Exception):
    """The baseline file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One known violation."""

    rule: str
    subject: str
    chain: tuple[str, ...] = ()
    reason: str | None = None
    attribute: str | None = None
    module: str | None = None

    @property
    def fingerprint(self) -> Fingerprint:
        return (self.rule, self.subject, self.attribute or "", self.module or "", self.chain)

    @classmethod
    def of(cls, fingerprint: Fingerprint, reason: str | None = None) -> Entry:
        rule, subject, attribute, module, chain = fingerprint
        return cls(rule, subject, chain, reason, attribute or None, module or None)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule,
            "name": BY_CODE[self.rule].name,
            "subject": self.subject,
        }
        if self.attribute:
            data["attribute"] = self.attribute
        if self.module:
            data["module"] = self.module
        data["chain"] = list(self.chain)
        if self.reason is not None:
            data["reason"] = self.reason
        return data


def fingerprint(
    rule: str, subject: str, chain: Iterable[Any], attribute: object = None, module: object = None
) -> Fingerprint:
    """The fingerprint of an event; *chain* holds ``ChainLink``\\ s, dicts or module names."""
    modules: list[str] = []
    for link in chain:
        if isinstance(link, str):
            modules.append(link)
        elif isinstance(link, Mapping):
            modules.append(str(link.get("module")))
        else:
            modules.append(str(getattr(link, "module", link)))
    return (
        rule,
        subject,
        attribute if isinstance(attribute, str) else "",
        module if isinstance(module, str) else "",
        tuple(modules),
    )


def match(entries: Mapping[Fingerprint, Entry], fp: Fingerprint) -> Fingerprint | None:
    """The baseline key that covers *fp*, or ``None``.

    An entry written without ``attribute`` or ``module`` (by hand) covers every attribute
    or module; the update writes precise entries.
    """
    rule, subject, attribute, module, chain = fp
    for key in (
        fp,
        (rule, subject, attribute, "", chain),
        (rule, subject, "", module, chain),
        (rule, subject, "", "", chain),
    ):
        if key in entries:
            return key
    return None


def _problem(path: str, where: str, text: str) -> BaselineError:
    return BaselineError(f"{path}: {where}: {text}" if where else f"{path}: {text}")


def _entry(path: str, index: int, raw: object) -> Entry:
    where = f"violations[{index}]"
    if not isinstance(raw, dict):
        raise _problem(path, where, f"expected an object, got {type(raw).__name__}")
    for key in raw:
        if key not in _ENTRY_KEYS:
            raise _problem(
                path, where, f"unknown key {key!r}; expected {', '.join(map(repr, _ENTRY_KEYS))}"
            )
    for key in ("rule", "subject"):
        if key not in raw:
            raise _problem(path, where, f"missing key {key!r}")
        if not isinstance(raw[key], str) or not raw[key]:
            raise _problem(path, f"{where}.{key}", f"expected a non-empty string, got {raw[key]!r}")
    rule = lookup(raw["rule"])
    if rule is None:
        raise _problem(path, f"{where}.rule", f"unknown rule {raw['rule']!r}")
    chain = raw.get("chain", [])
    if not isinstance(chain, list) or not all(isinstance(m, str) for m in chain):
        raise _problem(path, f"{where}.chain", "expected a list of module names")
    attribute = raw.get("attribute")
    if attribute is not None and (not isinstance(attribute, str) or not attribute):
        raise _problem(path, f"{where}.attribute", f"expected a name, got {attribute!r}")
    module = raw.get("module")
    if module is not None and (not isinstance(module, str) or not module):
        raise _problem(path, f"{where}.module", f"expected a module name, got {module!r}")
    reason = raw.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise _problem(path, f"{where}.reason", f"expected a string, got {type(reason).__name__}")
    name = raw.get("name")
    if name is not None and name != rule.name:
        raise _problem(
            path, f"{where}.name", f"{name!r} does not match rule {rule.code} ({rule.name!r})"
        )
    return Entry(
        rule=rule.code,
        subject=raw["subject"],
        chain=tuple(chain),
        reason=reason,
        attribute=attribute,
        module=module,
    )


def load(path: str | os.PathLike[str]) -> dict[Fingerprint, Entry]:
    """Read and validate a baseline file; :class:`BaselineError` on any problem."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as stream:
            text = stream.read()
    except FileNotFoundError:
        raise _problem(name, "", "baseline file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise _problem(name, "", f"cannot read the baseline file ({error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise _problem(
            name, "", f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    if not isinstance(data, dict):
        raise _problem(name, "", f"expected a JSON object, got {type(data).__name__}")
    for key in data:
        if key not in ("schema", "violations"):
            raise _problem(name, "", f"unknown top-level key {key!r}")
    if data.get("schema") != SCHEMA:
        raise _problem(name, "schema", f"expected {SCHEMA!r}, got {data.get('schema')!r}")
    violations = data.get("violations")
    if not isinstance(violations, list):
        raise _problem(name, "violations", "expected a list")
    entries: dict[Fingerprint, Entry] = {}
    first: dict[Fingerprint, int] = {}
    for index, raw in enumerate(violations):
        entry = _entry(name, index, raw)
        if entry.fingerprint in entries:
            raise _problem(
                name,
                f"violations[{index}]",
                f"duplicate of violations[{first[entry.fingerprint]}] "
                "(same rule, subject, attribute, module and chain)",
            )
        entries[entry.fingerprint] = entry
        first[entry.fingerprint] = index
    return entries


def render(entries: Iterable[Entry]) -> str:
    """The file's text: entries sorted by fingerprint, two-space indented, newline-terminated."""
    ordered: Sequence[Entry] = sorted(entries, key=lambda entry: entry.fingerprint)
    data = {"schema": SCHEMA, "violations": [entry.as_dict() for entry in ordered]}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write(path: str | os.PathLike[str], entries: Iterable[Entry]) -> None:
    """Write the baseline atomically (temporary file in the same folder, then rename)."""
    target = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(target) or "."
    text = render(entries)
    handle, temp = tempfile.mkstemp(prefix=".ssot-guard-baseline-", suffix=".json", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
