"""Adapters: one module per framework or formulation, each exporting `ADAPTERS`.

A new framework is one new module here; it is found by `all_adapters()` without being listed.
Importing an adapter module never imports its framework (that happens on first use).
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import pkgutil
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from adapters.base import FRAMEWORK_MODULES, Adapter, framework_installed, module_installed

FRAMEWORKS = tuple(FRAMEWORK_MODULES)
_HELPER_MODULES = {"base", "layout", "padding", "onnx_model"}


@cache
def all_adapters() -> tuple[Adapter, ...]:
    """Every adapter tconv knows, installed or not, sorted by framework then name."""
    found: list[Adapter] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name in _HELPER_MODULES or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.extend(getattr(module, "ADAPTERS", ()))
    names = [a.name for a in found]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise RuntimeError(f"adapter names must be unique: {sorted(duplicates)}")
    return tuple(sorted(found, key=lambda a: (FRAMEWORKS.index(a.framework), a.name)))


def load_plugin(path: str | Path) -> tuple[Adapter, ...]:
    """The `ADAPTERS` of a user's Python file: their own implementation, checked like the rest."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"tconv_plugin_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    adapters = tuple(getattr(module, "ADAPTERS", ()))
    if not adapters or not all(isinstance(a, Adapter) for a in adapters):
        raise ValueError(f"{path}: defines no ADAPTERS tuple of adapters.base.Adapter instances")
    return adapters


def requirements_met(adapter: Adapter) -> bool:
    """Every module of the adapter's `requires` (a converter in its own tox env) is importable."""
    return all(module_installed(m) for m in adapter.requires)


def installed_adapters(frameworks: tuple[str, ...] | None = None) -> tuple[Adapter, ...]:
    """The adapters of the named (default: all) frameworks whose framework is importable, and
    every module they require too."""
    wanted = FRAMEWORKS if frameworks is None else frameworks
    return tuple(a for a in all_adapters()
                 if a.framework in wanted and framework_installed(a.framework) and requirements_met(a))


def missing_requirements_of(frameworks: Sequence[str] | None = None, names: str = "*",
                            plugins: Sequence[Adapter] = ()) -> tuple[str, ...]:
    """`adapter (needs module, ...)` for each adapter (built-in or plugin) of the named frameworks
    and `--adapters` globs whose framework is installed but not a module its `requires` names:
    the run leaves it out, and its summary says so."""
    wanted = None if frameworks is None else set(frameworks)
    return tuple(f"{a.name} (needs {', '.join(m for m in a.requires if not module_installed(m))})"
                 for a in (*all_adapters(), *plugins)
                 if (wanted is None or a.framework in wanted) and framework_installed(a.framework)
                 and not requirements_met(a) and name_matches(a.name, names))


def missing_frameworks(frameworks: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The named (default: all) built-in frameworks that are not installed here.

    Names of plugin frameworks (which tconv cannot check) are passed over.
    """
    wanted = FRAMEWORKS if frameworks is None else frameworks
    return tuple(f for f in wanted if f in FRAMEWORKS and not framework_installed(f))


def unknown_frameworks(frameworks: Sequence[str], plugins: Sequence[Adapter] = ()) -> tuple[str, ...]:
    """The names in `frameworks` that neither tconv nor any plugin adapter knows (bad arguments)."""
    known = set(FRAMEWORKS) | {a.framework for a in plugins}
    return tuple(f for f in frameworks if f not in known)


def name_matches(name: str, patterns: str) -> bool:
    """Whether an adapter name matches one of the comma-separated globs of `--adapters`."""
    return any(fnmatch.fnmatchcase(name, p.strip()) for p in patterns.split(",") if p.strip())


def select_adapters(
    *, frameworks: Sequence[str] | None = None, names: str = "*", plugins: Sequence[Adapter] = ()
) -> tuple[Adapter, ...]:
    """The adapters a run uses: built-in and plugin ones, chosen by the same two filters.

    `frameworks` (default: all) and the `names` globs apply to plugin adapters exactly as to the
    built-in ones (the contract), so `--frameworks numpy` leaves out a plugin of framework `myfw`.
    A plugin that claims a built-in framework that is not installed is left out like the
    built-in adapters of that framework (the run's summary names the framework as missing), and
    so is any adapter a module of whose `requires` is not installed (`missing_requirements_of`);
    a framework only plugins know is taken as installed, since tconv cannot check it.
    Built-in adapters come first, then plugins in the order given. Raises `ValueError` when a
    plugin's name is already taken: rows are keyed by adapter name.
    """
    builtin_names = {a.name for a in all_adapters()}
    seen: set[str] = set()
    for plugin in plugins:
        if plugin.name in builtin_names or plugin.name in seen:
            raise ValueError(f"plugin adapter name {plugin.name!r} is already taken; adapter names must be unique")
        seen.add(plugin.name)
    wanted = None if frameworks is None else set(frameworks)

    def chosen(adapter: Adapter) -> bool:
        if wanted is not None and adapter.framework not in wanted:
            return False
        if adapter.framework in FRAMEWORKS and not framework_installed(adapter.framework):
            return False
        if not requirements_met(adapter):  # its converter is not installed here (its own tox env)
            return False
        return name_matches(adapter.name, names)

    return tuple(a for a in (*all_adapters(), *plugins) if chosen(a))
