"""Where each benchmark's files live (``configs/data.yaml``; ``CSR_DATA_DIR`` overrides ``data_dir``).

Relative paths are taken relative to ``data_dir``. Nothing is downloaded at run time: a benchmark whose
files are absent is reported as skipped, with the path looked for and how to obtain the data. The
micro-world is the exception: it is generated (deterministically, in seconds) when absent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from csr_eval.config import load_config


@dataclass
class MicroData:
    world: str = "micro-world"  # built here (val split only) when absent
    seed: int = 0
    n_val: int = 200


@dataclass
class PopeData:
    labels: str = "pope/coco"  # coco_pope_{random,popular,adversarial}.json from POPE's repository
    images: str = "coco/val2014"


@dataclass
class ChairData:
    annotations: str = "coco/annotations"  # instances_val2014.json + captions_val2014.json
    images: str = "coco/val2014"
    n_images: int = 500
    seed: int = 0
    max_new_tokens: int = 512


@dataclass
class MmeData:
    questions: str = "MME/eval_tool/Your_Results"  # one <subtask>.txt per subtask: image<TAB>question<TAB>answer
    images: str = "MME/MME_Benchmark_release_version"


@dataclass
class LmmsTaskData:
    path: str = ""  # a local copy of the lmms-eval dataset (HF snapshot folder or save_to_disk output)


@dataclass
class DataConfig:
    data_dir: str = "data"
    micro: MicroData = field(default_factory=MicroData)
    pope: PopeData = field(default_factory=PopeData)
    chair: ChairData = field(default_factory=ChairData)
    mme: MmeData = field(default_factory=MmeData)
    seed: LmmsTaskData = field(default_factory=lambda: LmmsTaskData("lmms/SEED-Bench"))
    llava_wild: LmmsTaskData = field(default_factory=lambda: LmmsTaskData("lmms/llava-bench-in-the-wild"))
    mmbench: LmmsTaskData = field(default_factory=lambda: LmmsTaskData("lmms/MMBench"))
    mmvet: LmmsTaskData = field(default_factory=lambda: LmmsTaskData("lmms/MMVet"))
    sqa: LmmsTaskData = field(default_factory=lambda: LmmsTaskData("lmms/ScienceQA"))
    vizwiz: LmmsTaskData = field(default_factory=lambda: LmmsTaskData("lmms/VizWiz-VQA"))
    gqa: LmmsTaskData = field(default_factory=lambda: LmmsTaskData("lmms/GQA"))

    def resolve(self, relative: str) -> Path:
        base = Path(os.environ.get("CSR_DATA_DIR") or self.data_dir)
        path = Path(relative)
        return path if path.is_absolute() else base / path


def load_data_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> DataConfig:
    return load_config(DataConfig, path, overrides)
