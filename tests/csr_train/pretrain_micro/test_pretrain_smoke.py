"""``csr-train pretrain-micro``: a 1-step run writes loadable models in the shipped layout (CI smoke).

The full pretraining (about 25 minutes on 2 cores) is not run here; its outcome is measured by
``csr-eval micro check`` and reported in docs/micro-world.md.
"""

import json

import pytest

torch = pytest.importorskip("torch")

from csr_train.cli import main  # noqa: E402

SMALL = ["--set", "clip.batch_size=8", "--set", "llava.batch_size=2", "--set", "log_every=1"]


@pytest.fixture(scope="module")
def smoke_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("pretrain") / "models"
    assert main(["pretrain-micro", "--out", str(out), "--max-steps", "1", "--seed", "3", *SMALL]) == 0
    return out


def test_writes_both_models_a_log_and_a_summary(smoke_out):
    summary = json.loads((smoke_out / "pretrain_summary.json").read_text())
    assert summary["seed"] == 3 and summary["smoke_max_steps"] == 1
    assert [p["phase"] for p in summary["phases"]] == ["captions", "qa_warmup", "mixed"]
    log = [json.loads(line) for line in (smoke_out / "pretrain_log.jsonl").read_text().splitlines()]
    assert {r["stage"] for r in log} == {"clip", "llava"}
    assert all(r["loss"] > 0 for r in log if "loss" in r)
    assert "seed: 3" in (smoke_out / "pretrain_config.yaml").read_text()
    assert not smoke_out.with_name(smoke_out.name + ".partial").exists()


def test_llava_loads_with_auto_classes_and_generates(smoke_out):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from csr_eval.micro.world import render, sample_scene
    import random

    path = smoke_out / "micro-llava"
    model = AutoModelForImageTextToText.from_pretrained(path).eval()
    processor = AutoProcessor.from_pretrained(path)
    assert type(model).__name__ == "LlavaForConditionalGeneration"
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe."}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(images=render(sample_scene(random.Random(0))), text=prompt, return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]


def test_clip_loads_as_open_clip_local_dir_and_its_vision_is_the_llava_tower(smoke_out):
    import open_clip
    from transformers import AutoModelForImageTextToText

    clip, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{smoke_out / 'micro-clip'}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{smoke_out / 'micro-clip'}")
    ids = tokenizer(["There is a dog."])
    eos = json.loads((smoke_out / "micro-clip" / "open_clip_config.json").read_text())["model_cfg"]["text_cfg"]["eos_id"]
    assert (ids == eos).sum() == 1
    llava = AutoModelForImageTextToText.from_pretrained(smoke_out / "micro-llava")
    tower = {k.removeprefix("vision_model."): v for k, v in llava.model.vision_tower.state_dict().items()}
    assert torch.equal(tower["embeddings.patch_embedding.weight"], clip.visual.conv1.weight)


def test_refuses_a_foreign_folder_and_a_bad_config(tmp_path, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main(["pretrain-micro", "--out", str(foreign), "--max-steps", "1"]) == 2
    assert "refusing to replace it" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep me"
    bad = tmp_path / "bad.yaml"
    bad.write_text("llava:\n  batch_sise: 4\n")
    assert main(["pretrain-micro", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "llava.batch_sise" in err and str(bad) in err


def test_second_family_writes_a_loadable_micro_qwen(tmp_path):
    """``--family qwen2_5_vl``: the same tokenizer and curriculum on a Qwen2.5-VL, written to OUT/micro-qwen with
    its own log and summary; it loads with the Auto classes and answers through the toolkit's runner."""
    import random

    from csr_eval.micro.world import render, sample_scene
    from csr_eval.runner import ModelRunner

    out = tmp_path / "models"
    assert main(["pretrain-micro", "--family", "qwen2_5_vl", "--out", str(out), "--max-steps", "1", *SMALL]) == 0
    folder = out / "micro-qwen"
    summary = json.loads((folder / "pretrain_summary.json").read_text())
    assert summary["family"] == "qwen2_5_vl" and [p["phase"] for p in summary["phases"]] == \
        ["captions", "qa_warmup", "mixed"]
    log = [json.loads(line) for line in (folder / "pretrain_log.jsonl").read_text().splitlines()]
    assert {r["stage"] for r in log} == {"qwen2_5_vl"} and all(r["loss"] > 0 for r in log if "loss" in r)
    runner = ModelRunner.load(folder)
    assert type(runner.model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert runner.model.dtype == torch.float32  # stored in bf16, loaded as float32
    answer = runner.generate([render(sample_scene(random.Random(0)))], ["Describe."])
    assert isinstance(answer[0], str)
