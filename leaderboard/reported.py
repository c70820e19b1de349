"""The CSR paper's reported numbers (``data/csr_paper_reported.yaml``) as leaderboard rows.

Reported rows are a separate table in the dashboard and carry "reported" and their table number in every
label and export: they are never averaged, ranked or bolded together with measured rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from leaderboard.columns import by_key

# The paper's column names -> leaderboard column keys.
YAML_COLUMNS = {"MMEP": "MME_P", "MMEC": "MME_C", "SEED": "SEED", "LLaVAW": "LLaVA_W", "MMB": "MMB",
                "MM-Vet": "MM-Vet", "SQAI": "SQA_I", "VisWiz": "VizWiz", "GQA": "GQA", "POPE": "POPE",
                "POPEacc": "POPE", "POPEf1": "POPE_F1", "CHAIRS": "CHAIR_S", "CHAIRI": "CHAIR_I",
                "avg_length": "CHAIR_len"}
# Tables 6 (general) and 7 (hallucination) hold the same iteration rows; shown joined.
CHOICES = {"Table 1": ("table1",), "Table 5": ("table5",), "Tables 6+7": ("table6", "table7"),
           "Table 8": ("table8",), "Table 9": ("table9",)}


@dataclass
class ReportedRow:
    tables: str  # "Table 1", "Tables 6+7", ...
    backbone: str
    method: str
    values: dict[str, float] = field(default_factory=dict)  # leaderboard column key -> value

    @property
    def label(self) -> str:
        name = self.method if self.method == self.backbone or not self.method.startswith("+") \
            else f"{self.backbone} {self.method}"
        return f"{name} (reported, {self.tables})"


@dataclass(frozen=True)
class Reported:
    source: str
    note: str
    tables: dict

    def rows(self, choice: str) -> list[ReportedRow]:
        """The rows of one choice of ``CHOICES``, tables joined on (backbone, method)."""
        if choice not in CHOICES:
            raise KeyError(f"unknown reported table {choice!r}; choose from {', '.join(CHOICES)}")
        out: dict[tuple[str, str], ReportedRow] = {}
        known = by_key()
        for key in CHOICES[choice]:
            for raw in self.tables[key]["rows"]:
                row = out.setdefault((raw["backbone"], raw["method"]),
                                     ReportedRow(choice, raw["backbone"], raw["method"]))
                for name, value in raw.items():
                    if name in YAML_COLUMNS and YAML_COLUMNS[name] in known:
                        row.values[YAML_COLUMNS[name]] = float(value)
        return list(out.values())

    def reward_rows(self) -> list[dict]:
        """Table 10: mean chosen and rejected reward per iteration (LLaVA-1.5 7B)."""
        return [dict(r) for r in self.tables["table10"]["rows"]]


@lru_cache(maxsize=4)
def load_reported(path: str | None = None) -> Reported:
    """The shipped file, or ``path``."""
    text = Path(path).read_text(encoding="utf-8") if path else \
        resources.files("leaderboard").joinpath("data/csr_paper_reported.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return Reported(source=data["source"], note=data["note"], tables=data["tables"])
