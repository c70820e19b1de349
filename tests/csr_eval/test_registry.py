"""Model names: run iterations first, then the registry file, then paths and hub ids."""

import json

import pytest

from csr_eval.errors import InputError
from csr_eval.registry import ModelRegistry


@pytest.fixture
def run(tmp_path):
    run = tmp_path / "runs" / "r1"
    (run / "iter1" / "model").mkdir(parents=True)
    (run / "iter1" / "model" / "config.json").write_text("{}")
    (run / "iter2" / "model").mkdir(parents=True)
    (run / "iter2" / "model" / "adapter_config.json").write_text("{}")
    (run / "csr_run.json").write_text(json.dumps({"base_model": "org/base", "iterations": [
        {"iteration": 1, "model": "iter1/model"}, {"iteration": 2, "model": "iter2/model"}]}))
    return run


@pytest.fixture
def registry_file(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text("models:\n  base: micro-llava\n  llava-1.5-7b: llava-hf/llava-1.5-7b-hf\n"
                    "  povid:\n    path: org/base\n    adapter: /adapters/povid\n")
    return path


def test_run_names_come_first(run, registry_file):
    registry = ModelRegistry(run, registry_file)
    assert registry.resolve("base").path == "org/base"
    one, two = registry.resolve("iter1"), registry.resolve("iter2")
    assert one.path == str(run / "iter1" / "model") and one.adapter is None and one.iteration == 1
    assert two.path == "org/base" and two.adapter == str(run / "iter2" / "model") and two.iteration == 2
    # stored under the run's name, as csr-train stores its own evaluations: one row per model of each run
    assert (one.name, two.name, registry.resolve("base").name) == (f"{run.name}/iter1", f"{run.name}/iter2",
                                                                    f"{run.name}/base")
    with pytest.raises(InputError, match="iter3 not in this run"):
        registry.resolve("iter3")


def test_default_run_is_the_newest_under_runs(run, registry_file, tmp_path):
    assert ModelRegistry(None, registry_file, runs_dir=tmp_path / "runs").run == run


def test_registry_then_paths_then_hub_ids(registry_file, tmp_path):
    registry = ModelRegistry(None, registry_file, runs_dir=tmp_path / "none")
    assert registry.resolve("base").path.endswith("micro-llava")  # no run: the shipped micro-LLaVA
    assert registry.resolve("llava-1.5-7b").path == "llava-hf/llava-1.5-7b-hf"
    assert registry.resolve("povid").adapter == "/adapters/povid"
    assert registry.resolve(str(tmp_path)).source == "path"
    assert registry.resolve("someone/some-model").source == "hub"


def test_unknown_name_lists_the_known_ones(registry_file, tmp_path):
    with pytest.raises(InputError) as err:
        ModelRegistry(None, registry_file, runs_dir=tmp_path / "none").resolve("llava15")
    assert "unknown model 'llava15'" in str(err.value) and "llava-1.5-7b" in str(err.value)


def test_bad_run_directory_is_named(tmp_path):
    with pytest.raises(InputError, match="not a CSR run directory"):
        ModelRegistry(tmp_path, None)


def test_a_run_and_a_registry_entry_say_how_their_models_are_asked(run, tmp_path):
    """csr_run.json's ``asked`` (what csr-train writes: the run's conversation and padding) and a registry entry's
    ``conversation`` / ``pad_to_square`` become the models' defaults; an entry says nothing: None (csr-eval's own
    defaults). A value csr-eval could not use names the file and the model."""
    data = json.loads((run / "csr_run.json").read_text())
    (run / "csr_run.json").write_text(json.dumps({**data, "asked": {"conversation": "vicuna_v1",
                                                                    "pad_to_square": True}}))
    registry_file = tmp_path / "models.yaml"
    registry_file.write_text("models:\n  plain: org/plain\n"
                             "  llava: {path: org/llava, conversation: vicuna_v1, pad_to_square: true}\n")
    registry = ModelRegistry(run, registry_file)
    for name in ("base", "iter1", "iter2", "llava"):
        assert (registry.resolve(name).conversation, registry.resolve(name).pad_to_square) == ("vicuna_v1", True)
    assert (registry.resolve("plain").conversation, registry.resolve("plain").pad_to_square) == (None, None)
    registry_file.write_text("models:\n  llava: {path: org/llava, conversation: vicuna}\n")
    with pytest.raises(InputError, match="models.yaml: model 'llava': conversation must be one of"):
        ModelRegistry(None, registry_file, runs_dir=tmp_path / "none").resolve("llava")
    registry_file.write_text("models:\n  llava: {path: org/llava, pad_to_square: 'yes'}\n")
    with pytest.raises(InputError, match="pad_to_square must be true or false"):
        ModelRegistry(None, registry_file, runs_dir=tmp_path / "none").resolve("llava")
    registry_file.write_text("models:\n  llava: {path: org/llava, dtype: fp16}\n")
    with pytest.raises(InputError, match="dtype must be one of auto, float32, bfloat16, float16, got 'fp16'"):
        ModelRegistry(None, registry_file, runs_dir=tmp_path / "none").resolve("llava")


def test_the_shipped_registry_asks_llava15_as_its_paper_did():
    from pathlib import Path

    registry = ModelRegistry(None, Path("configs/models.yaml"), runs_dir=Path("/nonexistent"))
    for name in ("llava-1.5-7b", "llava-1.5-13b"):
        model = registry.known()[name]
        assert (model.conversation, model.pad_to_square) == ("vicuna_v1", True)
