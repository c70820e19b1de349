"""One CSR iteration's three GPU workloads on 7B-shaped models with random weights (issue 16, item 5).

    python speed/gpu_shapes.py --shape llava-1.5-7b --device cuda --dtype bfloat16
    python speed/gpu_shapes.py --shape qwen2.5-vl-7b --device cuda --dtype bfloat16
    python speed/gpu_shapes.py --shape qwen2.5-vl-7b --text-layers 1 --vision-layers 1   # CPU smoke of the script

The model is built from its config directly on the device (no download; the micro tokenizer replaces the real
vocabulary, 0.25-0.5 B parameters fewer than 7 B): LLaVA-1.5-7B (CLIP ViT-L/14-336, 576 image tokens, a 32-layer
4096-wide Llama) or Qwen2.5-VL-7B (a 32-block 1280-wide ViT with 2 x 2 merge, 28 layers 3584 wide, 4 KV heads;
micro-world images upscaled to 448 px: 256 image tokens). With the GPU config's settings
(configs/llava15-7b.yaml or configs/qwen2.5-vl-7b.yaml) it times, and records the peak GPU memory of:

1. one search batch of ``search.prompts_per_batch`` prompts (the sentence-level search, CLIP R_I, 2 sentences);
2. one DPO step (TRL's DPOTrainer, the config's LoRA on the language model, gradient checkpointing, batch 1);
3. one evaluation batch (greedy, ``eval.batch_size`` prompts, 64 new tokens).

Results go to speed/results/gpu_<shape>_<device>.json and are printed; docs/performance.md reports them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import RESULTS, machine, micro_world

CONFIGS = {"llava-1.5-7b": "configs/llava15-7b.yaml", "qwen2.5-vl-7b": "configs/qwen2.5-vl-7b.yaml"}


def qwen25_shaped(device: str, dtype: str, tokenizer, text_layers: int = 28, vision_layers: int = 32):
    """Qwen2.5-VL-7B's architecture with random weights, built from its config (no download)."""
    import torch
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor,
                              Qwen2VLImageProcessor, Qwen2VLVideoProcessor)

    from csr_eval.micro.families import QWEN_IMAGE_MARKUP, add_qwen_tokens
    from csr_eval.micro.models import chat_template

    ids = add_qwen_tokens(tokenizer)
    config = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=3584, intermediate_size=18944,
                         num_hidden_layers=text_layers, num_attention_heads=28, num_key_value_heads=4,
                         max_position_embeddings=32768, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
                         rope_parameters={"rope_type": "default", "rope_theta": 1000000.0,
                                          "mrope_section": [16, 24, 24]}),
        vision_config=dict(depth=vision_layers, hidden_size=1280, intermediate_size=3420, num_heads=16,
                           out_hidden_size=3584, patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                           window_size=112, fullatt_block_indexes=[i for i in (7, 15, 23, 31) if i < vision_layers]),
        **ids)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration(config).to(getattr(torch, dtype)).eval()
    pixels = 448 * 448
    processor = Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(min_pixels=pixels, max_pixels=pixels),
                                    video_processor=Qwen2VLVideoProcessor(), tokenizer=tokenizer,
                                    chat_template=chat_template(QWEN_IMAGE_MARKUP))
    return model, processor


def build(shape: str, device: str, dtype: str, text_layers: int | None, vision_layers: int | None):
    from csr_eval.micro.shipped import shipped_model
    from csr_eval.runner import ModelRunner
    from search_speed import llava_shaped

    micro = ModelRunner.load(shipped_model("micro-llava"))
    if shape == "llava-1.5-7b":
        model, processor = llava_shaped(device, dtype, micro.processor, text_layers or 32, max(2, vision_layers or 24))
    else:
        model, processor = qwen25_shaped(device, dtype, micro.processor.tokenizer, text_layers or 28,
                                         vision_layers or 32)
    for key in ("pad_token_id", "eos_token_id", "bos_token_id"):
        setattr(model.generation_config, key, getattr(processor.tokenizer, key))
    return ModelRunner(model, processor)


class Meter:
    """Seconds and peak device memory of one stage."""

    def __init__(self, device: str):
        self.device, self.stages = device, {}

    def __call__(self, name: str, action):
        import torch

        cuda = self.device.startswith("cuda")
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        result = action()
        if cuda:
            torch.cuda.synchronize()
        self.stages[name] = {"seconds": round(time.perf_counter() - start, 2),
                             "peak_gib": round(torch.cuda.max_memory_allocated() / 2 ** 30, 2) if cuda else None}
        print(f"{name}: {self.stages[name]}", flush=True)
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(CONFIGS), required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--text-layers", type=int, help="fewer language-model layers (a CPU smoke run)")
    parser.add_argument("--vision-layers", type=int, help="fewer vision layers (a CPU smoke run)")
    args = parser.parse_args()

    from dataclasses import replace

    import torch

    from csr_eval.io import load_rgb_image
    from csr_eval.runner import GenerationSettings
    from csr_train.config import load_csr_config
    from csr_train.dpo import build_trainer
    from csr_train.prompts import load_prompts
    from csr_train.reward import ClipRelevance
    from csr_train.search import PromptItem, SentenceBeamSearch, SentenceRewarder

    torch.manual_seed(0)
    config = load_csr_config(CONFIGS[args.shape])
    batch = config.search.prompts_per_batch
    world = micro_world(RESULTS / "micro-world-bench", max(batch, config.eval.batch_size))
    prompts = load_prompts(world / "llava_instruct_150k.json")
    images = {p.image: load_rgb_image(world / "images" / "csr" / p.image) for p in prompts}
    meter = Meter(args.device)
    runner = meter("build", lambda: build(args.shape, args.device, args.dtype, args.text_layers, args.vision_layers))
    parameters = sum(p.numel() for p in runner.model.parameters())

    search_settings = replace(config.search, max_sentences=2)
    from csr_eval.micro.shipped import shipped_model
    clip = ClipRelevance(f"open_clip:local-dir:{shipped_model('micro-clip')}", device=args.device)
    rewarder = SentenceRewarder(clip, config.reward.lam)  # the micro-CLIP: R_I's cost is not what is measured
    search = SentenceBeamSearch(runner.model, runner.processor, search_settings, rewarder, runner.prompt_text)
    items = [PromptItem(p.prompt_id, p.image, p.text, images[p.image]) for p in prompts[:batch]]
    trees = meter("search_batch", lambda: search.search(items))

    rows = []
    for tree in trees:
        leaves = [n for n in tree.nodes if n.parent == -1][:2]
        rows.append({"image": tree.image, "prompt": tree.prompt, "chosen": leaves[0].text or "A dog.",
                     "rejected": (leaves[-1].text if len(leaves) > 1 else "") or "A cat."})
    dpo = replace(config.dpo, max_steps=1, batch_size=1, bf16=args.dtype == "bfloat16", save_steps=10 ** 6)
    runner.model.train()
    with tempfile.TemporaryDirectory() as out:
        trainer, _ = build_trainer("", rows[:1], world / "images" / "csr", dpo, Path(out), seed=0,
                                   device="cpu" if args.device == "cpu" else args.device, dtype=args.dtype,
                                   loaded=(runner.model, runner.processor))
        meter("dpo_step", trainer.train)
        runner.model = trainer.model.merge_and_unload() if hasattr(trainer.model, "merge_and_unload") else trainer.model
    runner.model.eval()
    eval_items = prompts[:config.eval.batch_size]
    runner.batch_size = len(eval_items)
    meter("eval_batch", lambda: runner.generate([images[p.image] for p in eval_items], [p.text for p in eval_items],
                                                GenerationSettings(max_new_tokens=64)))
    result = {"benchmark": f"gpu_{args.shape}_{args.device}", "shape": args.shape, "parameters": parameters,
              "dtype": args.dtype, "prompts_per_batch": batch, "eval_batch": len(eval_items),
              "lora_r": config.dpo.lora_r, "gradient_checkpointing": config.dpo.gradient_checkpointing,
              "stages": meter.stages, "machine": machine(), "command": "python " + " ".join(sys.argv)}
    import json
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"gpu_{args.shape}_{args.device.split(':')[0]}{'_smoke' if args.text_layers else ''}.json"
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
