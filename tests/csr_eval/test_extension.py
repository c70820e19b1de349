"""Adding a benchmark is one module: a small benchmark from a user's package, found by its entry point, appears
in the suites, ``configs/data.yaml``, ``csr-eval score``, the aggregate and the dashboard — nothing else edited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# A user's benchmark: name the scene of a micro-world image (street, kitchen, ...), scored against the
# world's ground truth. Real data, real model, real scorer; nothing in csr_eval knows about it.
SCENE_MODULE = '''
"""Scene naming on the micro-world's val images."""
import json
from dataclasses import dataclass
from pathlib import Path

from csr_eval.benchmark import Benchmark, Column, ScoreCommand
from csr_eval.tasks import Judgement, PreparedTask, Request

PROMPT = "Where was this picture taken? Answer with one word."


@dataclass
class SceneData:
    n_images: int = 4


def images(world: Path) -> list[dict]:
    return json.loads((world / "annotations" / "instances_val.json").read_text())["images"]


def named(truth: str, answer: str) -> bool:
    return truth in answer.lower()


def accuracy(truth: dict, answers: dict) -> dict:
    right = [named(truth[k], a) for k, a in answers.items()]
    return {"accuracy": sum(right) / len(right), "n": len(right)}


def prepare(data, limit):
    world = data.micro_world()
    chosen = images(world)[: data.scene.n_images]
    truth = {str(i["id"]): i["scene"] for i in chosen}
    requests = [Request(str(i["id"]), world / "images" / "val" / i["file_name"], PROMPT) for i in chosen]

    def score(answers):
        return accuracy(truth, answers), {k: Judgement(correct=named(truth[k], a)) for k, a in answers.items()}
    return PreparedTask("scene", requests, 8, {"prompt": PROMPT, "n_images": len(chosen)}, score)


def arguments(parser):
    parser.add_argument("--answers", required=True, type=Path, help="jsonl: image_id, text")
    parser.add_argument("--world", required=True, type=Path)


def score_files(args):
    truth = {str(i["id"]): i["scene"] for i in images(args.world)}
    answers = {str(o["image_id"]): o["text"] for o in map(json.loads, args.answers.read_text().splitlines())}
    metrics = accuracy(truth, answers)
    return metrics, f"scene accuracy {100 * metrics['accuracy']:.1f}"


BENCHMARKS = (Benchmark("scene", "Scene naming (micro-world)", "toy", 0,
                        (Column("SCENE", "Scene acc", lambda m: 100 * m["accuracy"], paper_column="SCENE"),),
                        prepare, SceneData, lambda m: f"accuracy {100 * m['accuracy']:.1f}",
                        ScoreCommand("Scene naming: --answers jsonl with image_id and text; --world the "
                                     "micro-world folder.", arguments, score_files)),)
'''


@pytest.fixture
def user_package(tmp_path):
    """An installed distribution (a dist-info on the path) whose entry point names the benchmark module."""
    site = tmp_path / "site"
    info = site / "csr_scene-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "csr_scene.py").write_text(SCENE_MODULE)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: csr-scene\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[csr_eval.benchmarks]\nscene = csr_scene\n")
    return site


def _csr_eval(site: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    env.pop("CSR_DATA_DIR", None)
    return subprocess.run([sys.executable, "-m", "csr_eval", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_a_users_benchmark_reaches_suites_score_aggregate_and_dashboard(user_package, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    # the suite, the data section (scene.n_images) and the aggregate
    run = _csr_eval(user_package, work, "--model", "micro-llava", "--suite", "toy", "--set", "scene.n_images=3",
                    "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    scene = report["benchmarks"]["scene"]
    assert scene["status"] == "ok" and scene["metrics"]["n"] == 3
    assert report["aggregate"]["columns"] == ["SCENE"]
    assert report["aggregate"]["score"] == pytest.approx(100 * scene["metrics"]["accuracy"])
    listing = _csr_eval(user_package, work, "--model", "micro-llava", "--suite", "nonexistent")
    assert listing.returncode == 2 and "toy" in listing.stderr and "scene" in listing.stderr

    # csr-eval score: the benchmark's own file contract
    world = work / "data" / "micro-world"
    first = json.loads((world / "annotations" / "instances_val.json").read_text())["images"][:2]
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"image_id": i["id"], "text": t}) + "\n"
                               for i, t in zip(first, [first[0]["scene"].upper(), "nowhere"])))
    scored = _csr_eval(user_package, work, "score", "scene", "--answers", str(answers), "--world", str(world), "--json")
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert json.loads(scored.stdout) == {"accuracy": 0.5, "n": 2}
    help_text = _csr_eval(user_package, work, "score", "--help").stdout
    assert "scene" in help_text

    # the dashboard (in this process: the module registered at run time, the database the CLI wrote)
    from streamlit.testing.v1 import AppTest

    from csr_eval import benchmarks
    from csr_eval.data_config import data_config_class
    from leaderboard.context import DB_ENV

    monkeypatch.syspath_prepend(str(user_package))
    import csr_scene

    [spec] = csr_scene.BENCHMARKS
    benchmarks.register(spec)
    try:
        assert "scene" in {f for f in data_config_class().__dataclass_fields__}
        monkeypatch.setenv(DB_ENV, str(work / "results" / "csr.db"))
        at = AppTest.from_file(str(REPO / "leaderboard" / "app.py"), default_timeout=120).run()
        assert not at.exception, at.exception
        table = next(m.value for m in at.markdown if "csr-leaderboard" in m.value)
        assert "Scene acc ↑" in table and f"{100 * scene['metrics']['accuracy']:.1f}" in table
    finally:
        benchmarks.unregister("scene")
