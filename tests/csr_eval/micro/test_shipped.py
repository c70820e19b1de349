"""The shipped micro models: standard loading, generation, size budget, provenance."""

import json

import pytest

torch = pytest.importorskip("torch")

from csr_eval.micro.shipped import WEIGHTS_DIR, shipped_model  # noqa: E402


def test_shipped_models_stay_within_30_mb():
    total = sum(p.stat().st_size for p in WEIGHTS_DIR.rglob("*") if p.is_file())
    assert total <= 30 * 2**20, f"{total / 2**20:.1f} MiB"
    assert list(WEIGHTS_DIR.rglob("*.safetensors")) and not list(WEIGHTS_DIR.rglob("*.bin"))


def test_shipped_were_written_by_a_full_pretrain_run():
    summary = json.loads((WEIGHTS_DIR / "pretrain_summary.json").read_text())
    assert summary["smoke_max_steps"] is None and summary["reused_clip"] is None
    assert (WEIGHTS_DIR / "pretrain_config.yaml").is_file()


def test_llava_loads_with_auto_classes_and_describes_an_image():
    import random

    from transformers import AutoModelForImageTextToText, AutoProcessor

    from csr_eval.benchmarks.chair import CocoObjectVocabulary, caption_objects
    from csr_eval.micro.language import CHAIR_PROMPT
    from csr_eval.micro.world import render, sample_scene

    path = shipped_model("micro-llava")
    model = AutoModelForImageTextToText.from_pretrained(path).eval()
    processor = AutoProcessor.from_pretrained(path)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": CHAIR_PROMPT}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    scene = sample_scene(random.Random(11))
    inputs = processor(images=render(scene), text=prompt, return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=48, do_sample=False)
    caption = processor.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
    mentioned = caption_objects(caption, CocoObjectVocabulary.reference()).node_words
    assert caption.endswith(".") and mentioned, caption


def test_clip_loads_with_open_clip_and_prefers_a_present_object():
    import random

    import open_clip

    from csr_eval.micro.world import render, sample_scene

    path = shipped_model("micro-clip")
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{path}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{path}")
    model.eval()
    rng = random.Random(3)
    wins = 0
    for _ in range(20):
        scene = sample_scene(rng)
        absent = next(n for n in ("dog", "cup", "tv", "car", "bench") if n not in scene.object_names)
        with torch.no_grad():
            image = model.encode_image(preprocess(render(scene)).unsqueeze(0), normalize=True)
            text = model.encode_text(tokenizer([f"There is a {scene.object_names[0]}.", f"There is a {absent}."]),
                                     normalize=True)
        score = (100 * image @ text.T)[0]
        wins += int(score[0] > score[1])
    assert wins >= 17
