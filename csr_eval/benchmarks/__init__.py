"""The benchmark registry: one module per benchmark, each exporting ``BENCHMARKS`` (a tuple of
:class:`csr_eval.benchmark.Benchmark`).

Found here, in order: every module of this package; every entry point of group ``csr_eval.benchmarks`` (a
user's package adds its own benchmarks without touching ours: the entry point names a module exporting
``BENCHMARKS``, or a ``Benchmark``); anything given to :func:`register` at run time. Suites, ``csr-eval
score``, ``configs/data.yaml``, the aggregate and the dashboard's columns all iterate over this registry.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points
from types import ModuleType

from csr_eval.benchmark import GROUP_ORDER, Benchmark
from csr_eval.errors import InputError

ENTRY_POINT_GROUP = "csr_eval.benchmarks"
_found: dict[str, Benchmark] | None = None


def _specs(obj, origin: str) -> list[Benchmark]:
    if isinstance(obj, Benchmark):
        return [obj]
    specs = getattr(obj, "BENCHMARKS", None) if isinstance(obj, ModuleType) else obj
    if specs is None and isinstance(obj, ModuleType):
        return []
    specs = list(specs)
    wrong = [s for s in specs if not isinstance(s, Benchmark)]
    if wrong:
        raise TypeError(f"{origin}: BENCHMARKS must hold csr_eval.benchmark.Benchmark objects, got {wrong[0]!r}")
    return specs


def _add(into: dict[str, Benchmark], spec: Benchmark, origin: str) -> None:
    if spec.name in into and into[spec.name] is not spec:
        raise ValueError(f"{origin}: benchmark {spec.name!r} is already registered")
    keys = {c.key for s in into.values() if s.name != spec.name for c in s.columns}
    clash = [c.key for c in spec.columns if c.key in keys]
    if clash:
        raise ValueError(f"{origin}: column {clash[0]!r} of benchmark {spec.name!r} is already another's")
    into[spec.name] = spec


def _discover() -> dict[str, Benchmark]:
    found: dict[str, Benchmark] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for spec in _specs(module, module.__name__):
            _add(found, spec, module.__name__)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        for spec in _specs(point.load(), f"entry point {point.name} ({point.value})"):
            _add(found, spec, f"entry point {point.name}")
    return found


def _in_table_order(found: dict[str, Benchmark]) -> dict[str, Benchmark]:
    rank = {g: i for i, g in enumerate(GROUP_ORDER)}
    return dict(sorted(found.items(), key=lambda kv: (rank.get(kv[1].group, len(rank)), kv[1].group, kv[1].order,
                                                      kv[0])))


def registry() -> dict[str, Benchmark]:
    """Every benchmark by name, in table order (group as in the paper's Table 1, then position). Sorted once
    per change of the registry: the aggregate and the dashboard ask for it per cell."""
    global _found
    if _found is None:
        _found = _in_table_order(_discover())
    return _found


def register(spec: Benchmark) -> Benchmark:
    """Add a benchmark at run time (a notebook, a test); same rules as discovery (unique names and columns)."""
    global _found
    found = dict(registry())
    _add(found, spec, f"register({spec.name!r})")
    _found = _in_table_order(found)
    return spec


def unregister(name: str) -> None:
    global _found
    _found = {k: v for k, v in registry().items() if k != name}


def get(name: str) -> Benchmark:
    benchmarks = registry()
    if name not in benchmarks:
        raise InputError(None, f"unknown benchmark {name!r}; benchmarks: {', '.join(benchmarks)}")
    return benchmarks[name]


def columns() -> list:
    """Every benchmark's columns, in table order."""
    return [c for spec in registry().values() for c in spec.columns]
