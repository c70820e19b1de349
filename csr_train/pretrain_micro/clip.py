"""The micro-CLIP: an open_clip model from a custom config, trained contrastively on the micro-world.

It is saved as an open_clip ``local-dir`` model (``open_clip_config.json`` + ``open_clip_model.safetensors``
+ tokenizer files), so it loads exactly as a real CLIP does:
``open_clip.create_model_and_transforms("local-dir:PATH")`` and ``open_clip.get_tokenizer("local-dir:PATH")``.

The text tower uses the micro-world's BPE tokenizer. open_clip's default text pooling (``argmax``) assumes
the end-of-text token has the highest id, true only for OpenAI's tokenizer, so the config pools at
``</s>`` (``pool_type="eos"``), and the saved tokenizer appends ``</s>`` to every text.
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path

import torch

from csr_train.pretrain_micro.config import ClipPretrainConfig
from csr_train.pretrain_micro.data import CLIP_MEAN, CLIP_STD, MicroStream, pixel_values
from csr_eval.errors import InputError
from csr_eval.micro.world import IMAGE_SIZE


def model_config(config: ClipPretrainConfig, tokenizer) -> dict:
    """open_clip's ``model_cfg`` for the micro-CLIP."""
    return {
        "embed_dim": config.embed_dim,
        "vision_cfg": {"image_size": IMAGE_SIZE, "layers": config.vision_layers, "width": config.vision_width,
                       "head_width": config.head_width, "patch_size": 8},
        "text_cfg": {"context_length": config.context_length, "vocab_size": len(tokenizer),
                     "width": config.text_width, "heads": config.text_width // config.head_width,
                     "layers": config.text_layers, "pad_id": tokenizer.pad_token_id,
                     "eos_id": tokenizer.eos_token_id, "pool_type": "eos",
                     "hf_tokenizer_name": "micro-clip"},  # with local-dir, open_clip reads the tokenizer there
    }


def clip_tokenizer(tokenizer):
    """A copy of the micro tokenizer that ends every text with ``</s>`` (the token the text tower pools)."""
    from tokenizers import processors

    clip_tok = copy.deepcopy(tokenizer)
    clip_tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", tokenizer.eos_token_id)])
    return clip_tok


def build_clip(config: ClipPretrainConfig, tokenizer, seed: int):
    import open_clip

    torch.manual_seed(seed)
    cfg = model_config(config, tokenizer)
    return open_clip.CLIP(cfg["embed_dim"], open_clip.CLIPVisionCfg(**cfg["vision_cfg"]),
                          open_clip.CLIPTextCfg(**cfg["text_cfg"]), output_dict=True)


def tokenize(clip_tok, texts: list[str], context_length: int) -> torch.Tensor:
    return clip_tok(texts, max_length=context_length, padding="max_length", truncation=True,
                    return_tensors="pt").input_ids


def train_clip(config: ClipPretrainConfig, tokenizer, seed: int, log=print, max_steps: int | None = None):
    """Contrastive training on (image, one sentence about a present object) pairs, fresh scenes each step."""
    from open_clip.loss import ClipLoss

    model = build_clip(config, tokenizer, seed)
    clip_tok = clip_tokenizer(tokenizer)
    stream = MicroStream(seed, purpose="clip")
    steps = config.steps if max_steps is None else min(config.steps, max_steps)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  betas=(0.9, 0.98))
    loss_fn = ClipLoss()
    model.train()
    start = time.time()
    for step in range(1, steps + 1):
        lr = config.lr * min(1.0, step / max(1, config.warmup_steps)) * \
            0.5 * (1 + math.cos(math.pi * min(1.0, step / max(1, steps))))
        for group in optimizer.param_groups:
            group["lr"] = lr
        images, texts = stream.clip_batch(config.batch_size)
        out = model(pixel_values(images), tokenize(clip_tok, texts, config.context_length))
        loss = loss_fn(out["image_features"], out["text_features"], out["logit_scale"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 20 == 0 or step == steps:
            log({"stage": "clip", "step": step, "loss": round(loss.item(), 4), "lr": lr,
                 "seconds": round(time.time() - start, 1)})
    model.eval()
    return model, clip_tok


def save_clip(model, clip_tok, config: ClipPretrainConfig, out: str | Path) -> Path:
    """Write an open_clip ``local-dir`` model folder."""
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "open_clip_model.safetensors"))
    preprocess = {"mean": list(CLIP_MEAN), "std": list(CLIP_STD), "interpolation": "bicubic",
                  "resize_mode": "shortest"}
    (out / "open_clip_config.json").write_text(json.dumps(
        {"model_cfg": model_config(config, clip_tok), "preprocess_cfg": preprocess}, indent=1) + "\n")
    clip_tok.save_pretrained(out)
    return out


def load_clip(path: str | Path, tokenizer):
    """A saved micro-CLIP, checked to use exactly ``tokenizer``'s vocabulary."""
    import open_clip
    from transformers import AutoTokenizer

    saved = AutoTokenizer.from_pretrained(path)
    if saved.get_vocab() != tokenizer.get_vocab():
        raise InputError(path, "the micro-CLIP's tokenizer differs from this run's (different seed or corpus)")
    model, _, _ = open_clip.create_model_and_transforms(f"local-dir:{path}")
    return model.eval(), saved
