"""Preference fine-tuning (paper Eq. 5) with TRL's ``DPOTrainer`` and a peft LoRA, then the merge.

Reference = previous iteration: each iteration loads the previous merged checkpoint and gives TRL a fresh
``peft_config``, so the adapter-disabled model *is* the previous iteration (no second copy in memory);
afterwards the adapter is merged into a new full checkpoint, the next iteration's base. The LoRA targets
the language model only, wherever the family keeps it (``dpo.lora_target: auto``, see
:func:`csr_eval.model_family.language_model_lora_target`; vision towers have ``q_proj``/``k_proj`` too, and plain
names or ``all-linear`` would adapt them); the projector is trainable on request (``dpo.train_projector``).
``dpo.full_finetune`` trains all language-model weights against a frozen copy.

A killed training resumes from its newest trainer checkpoint (``save_steps``) in ``trainer/``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from transformers import TrainerCallback

from csr_eval.model_family import language_model_lora_target, language_model_name, projector_name
from csr_eval.runner import load_processor, torch_dtype

from csr_train.config import DpoSettings
from csr_train.faults import interrupt_point
from csr_train.preference_data import preference_dataset


class _InterruptAfterSave(TrainerCallback):
    """Fault injection for the resume tests (``CSR_TRAIN_INTERRUPT=dpo:n``): Ctrl-C right after checkpoint n."""

    def on_save(self, args, state, control, **kwargs):
        interrupt_point("dpo", state.global_step)


def _latest_checkpoint(folder: Path) -> Path | None:
    checkpoints = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return checkpoints[-1] if checkpoints else None


def build_trainer(base: str, rows: list[dict], image_root: Path, settings: DpoSettings, out: Path, seed: int,
                  device: str = "cpu", dtype: str = "float32", loaded=None, conversation: str = "chat_template",
                  pad_to_square: bool = False):
    """TRL's DPOTrainer on ``base`` (the previous iteration) with a fresh LoRA, checkpoints in ``out/trainer``.
    ``loaded``: a (model, processor) already in memory instead of ``base`` (speed/gpu_shapes.py's random 7B)."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForImageTextToText
    from trl import DPOConfig, DPOTrainer

    torch.manual_seed(seed)
    if loaded is None:
        processor = load_processor(base, pad_to_square)  # the pixels the search saw (the merged model keeps them)
        model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch_dtype(dtype))
    else:
        model, processor = loaded
    projector = projector_name(model)
    peft_config = None
    if not settings.full_finetune:
        target = language_model_lora_target(model) if settings.lora_target == "auto" else settings.lora_target
        peft_config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha,
                                 lora_dropout=settings.lora_dropout, target_modules=target, bias="none",
                                 task_type="CAUSAL_LM",
                                 modules_to_save=[projector] if settings.train_projector and projector else None)
    else:  # the language model trains (and the projector on request); the vision tower stays frozen
        trained = (language_model_name(model) + ".",) + \
            ((projector + ".",) if settings.train_projector and projector else ())
        for name, param in model.named_parameters():
            param.requires_grad_(name.startswith(trained) or name.startswith("lm_head."))
    trainer_dir = out / "trainer"
    args = DPOConfig(
        output_dir=str(trainer_dir), beta=settings.beta, learning_rate=settings.learning_rate,
        num_train_epochs=settings.epochs, max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps, lr_scheduler_type=settings.scheduler,
        # transformers 5 has no warmup_ratio: its documented `warmup_steps` takes a float in [0, 1) as the ratio
        # of the training steps (config validation keeps warmup_ratio there)
        warmup_steps=settings.warmup_ratio, weight_decay=settings.weight_decay, seed=seed, data_seed=seed,
        bf16=settings.bf16, use_cpu=device == "cpu", activation_checkpointing=settings.gradient_checkpointing,
        max_length=None, save_steps=settings.save_steps, save_total_limit=1, logging_steps=1, report_to="none",
        disable_tqdm=False, ld_alpha=settings.ld_alpha, **_losses(settings))
    trainer = DPOTrainer(model=model, ref_model=None, args=args,
                         train_dataset=preference_dataset(rows, image_root, processor, conversation,
                                                          settings.rejected_eos),
                         processing_class=processor, peft_config=peft_config, callbacks=[_InterruptAfterSave()])
    return trainer, processor


def _losses(settings: DpoSettings) -> dict:
    """The paper's sigmoid DPO loss, plus (``sft_weight`` > 0) the chosen answers' NLL."""
    if settings.sft_weight > 0:
        return {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, settings.sft_weight]}
    return {}


def train_dpo(base: str, rows: list[dict], image_root: Path, settings: DpoSettings, out: Path, seed: int,
              device: str = "cpu", dtype: str = "float32", conversation: str = "chat_template",
              pad_to_square: bool = False) -> dict:
    """Train on the pairs and write the merged model to ``out/model``; returns the training log summary."""
    trainer, processor = build_trainer(base, rows, image_root, settings, out, seed, device, dtype,
                                       conversation=conversation, pad_to_square=pad_to_square)
    trainer_dir = Path(trainer.args.output_dir)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    resume = _latest_checkpoint(trainer_dir)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    history = trainer.state.log_history
    merged = trainer.model if settings.full_finetune else trainer.model.merge_and_unload()
    target = out / "model"
    partial = out / "model.partial"
    merged.save_pretrained(partial)
    processor.save_pretrained(partial)
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    steps = [h for h in history if "loss" in h]
    summary = {"steps": trainer.state.global_step, "trainable_parameters": trainable,
               "resumed_from": resume.name if resume else None,
               "final_loss": steps[-1]["loss"] if steps else None,
               "final_reward_accuracy": steps[-1].get("rewards/accuracies") if steps else None,
               "final_margin": steps[-1].get("rewards/margins") if steps else None}
    (out / "dpo_log.json").write_text(json.dumps({"summary": summary, "history": history}, indent=1) + "\n",
                                      encoding="utf-8")
    return summary
