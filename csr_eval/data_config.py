"""Where each benchmark's files live (``configs/data.yaml``; ``CSR_DATA_DIR`` overrides ``data_dir``).

Relative paths are taken relative to ``data_dir``. Nothing is downloaded at run time: a benchmark whose
files are absent is reported as skipped, with the path looked for and how to obtain the data. The
micro-world is the exception: it is generated (deterministically, in seconds) when absent.

The sections are the benchmarks' own (``Benchmark.data``; an lmms-eval benchmark gets a ``path`` under
``lmms/``), so :class:`DataConfig` is assembled from the registry: a new benchmark brings its section.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path

from csr_eval import benchmarks
from csr_eval.config import load_config


@dataclass
class MicroData:
    world: str = "micro-world"  # built here (val split only) when absent
    seed: int = 0
    n_val: int = 200


@dataclass
class LmmsTaskData:
    path: str = ""  # a local copy of the lmms-eval dataset (HF snapshot folder or save_to_disk output)


@dataclass
class DataLocations:
    """The part of the data config that belongs to no single benchmark."""
    data_dir: str = "data"
    micro: MicroData = field(default_factory=MicroData)

    def resolve(self, relative: str) -> Path:
        base = Path(os.environ.get("CSR_DATA_DIR") or self.data_dir)
        path = Path(relative)
        return path if path.is_absolute() else base / path

    def micro_world(self) -> Path:
        """The micro-world evaluation split, generated on first use (deterministic from the seed)."""
        world = self.resolve(self.micro.world)
        if not (world / "micro_world.json").is_file():
            from csr_eval.micro.export import build  # draws images: numpy, PIL
            build(world, seed=self.micro.seed, n_train=0, n_csr=0, n_val=self.micro.n_val)
        return world


def _section(spec):
    if spec.data is not None:
        return spec.data
    return functools.partial(LmmsTaskData, f"lmms/{spec.lmms.hub}")


_ASSEMBLED: dict[tuple, type] = {}


def data_config_class() -> type:
    """The data config of the benchmarks registered now (the same class while the registry is the same)."""
    specs = tuple(s for s in benchmarks.registry().values() if s.data is not None or s.lmms is not None)
    key = tuple(map(id, specs))
    if key not in _ASSEMBLED:
        sections = [(spec.name, type(make()), field(default_factory=make)) for spec in specs
                    for make in (_section(spec),)]
        _ASSEMBLED[key] = make_dataclass("DataConfig", sections, bases=(DataLocations,))
    return _ASSEMBLED[key]


DataConfig = data_config_class()


def load_data_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> DataLocations:
    return load_config(data_config_class(), path, overrides)
