"""Adapters: one module per framework or formulation, each exporting `ADAPTERS`.

A new framework is one new module here; it is found by `all_adapters()` without being listed.
Importing an adapter module never imports its framework (that happens on first use).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from functools import cache
from pathlib import Path

from adapters.base import FRAMEWORK_MODULES, Adapter, framework_installed

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


def installed_adapters(frameworks: tuple[str, ...] | None = None) -> tuple[Adapter, ...]:
    """The adapters of the named (default: all) frameworks whose framework is importable."""
    wanted = FRAMEWORKS if frameworks is None else frameworks
    return tuple(a for a in all_adapters() if a.framework in wanted and framework_installed(a.framework))


def missing_frameworks(frameworks: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The named (default: all) frameworks that are not installed here."""
    wanted = FRAMEWORKS if frameworks is None else frameworks
    return tuple(f for f in wanted if not framework_installed(f))
