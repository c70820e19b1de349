"""``csr_runner``: the project's model runner as an lmms-eval model (simple mode).

Why our own class rather than lmms-eval's ``llava_hf``: that one takes no PEFT adapter, runs batch size 1,
imports ``decord`` at module level, and returns an empty string when generation fails. This one wraps
:class:`csr_eval.runner.ModelRunner`, so LoRA checkpoints, batching, dtype and the conversation format work
exactly as in ``csr-eval``; generation errors propagate.
"""

from __future__ import annotations

from typing import List, Tuple

from lmms_eval.api.model import lmms

from csr_eval.runner import GenerationSettings, ModelRunner

IMAGE_TAG = "<image>"


def cut_at_stop_strings(text: str, until: list[str] | str | None) -> str:
    """lmms-eval's ``until``: the answer ends before the first stop string."""
    stops = [until] if isinstance(until, str) else list(until or [])
    for stop in stops:
        if stop and stop in text:
            text = text[:text.index(stop)]
    return text


class CsrRunnerLmms(lmms):
    is_simple = True

    def __init__(self, pretrained: str | None = None, adapter: str | None = None, device: str = "cpu",
                 dtype: str = "auto", batch_size: int | str = 16, conversation: str = "chat_template",
                 runner: ModelRunner | None = None, **kwargs) -> None:
        super().__init__()
        if kwargs:
            raise ValueError(f"csr_runner: unknown model_args {sorted(kwargs)}")
        if runner is None:
            if pretrained is None:
                raise ValueError("csr_runner needs pretrained=<model folder or hub id>")
            runner = ModelRunner.load(pretrained, device=device, dtype=dtype, batch_size=int(batch_size),
                                      adapter=adapter, conversation=conversation)
        self.runner = runner
        self.batch_size_per_gpu = runner.batch_size

    def clean(self) -> None:
        """lmms-eval's default deletes the model's modules after each evaluate(); ours stays usable."""

    def _visual(self, args) -> tuple[str, object]:
        context, _, doc_to_visual, doc_id, task, split = args[:6]
        visuals = doc_to_visual(self.task_dict[task][split][doc_id])
        if not visuals:
            raise ValueError(f"{task} doc {doc_id}: no image (csr_runner evaluates image-text models)")
        return context.replace(IMAGE_TAG, "").strip(), visuals[0].convert("RGB")

    def generate_until(self, requests) -> List[str]:
        answers: list[str | None] = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        for i, request in enumerate(requests):
            kwargs = dict(request.args[1])
            key = (int(kwargs.get("max_new_tokens", 128)), float(kwargs.get("temperature", 0) or 0),
                   tuple(kwargs.get("until") or ()) if not isinstance(kwargs.get("until"), str)
                   else (kwargs["until"],))
            groups.setdefault(key, []).append(i)
        for (max_new_tokens, temperature, until), indices in groups.items():
            prompts, images = [], []
            for i in indices:
                prompt, image = self._visual(requests[i].args)
                prompts.append(prompt)
                images.append(image)
            settings = GenerationSettings(max_new_tokens=max_new_tokens, do_sample=temperature > 0,
                                          temperature=temperature or 1.0)
            for i, text in zip(indices, self.runner.generate(images, prompts, settings)):
                answers[i] = cut_at_stop_strings(text, list(until))
        return answers

    def loglikelihood(self, requests) -> List[Tuple[float, bool]]:
        """Mean negative log-likelihood of the continuation (lmms-eval's built-in LLaVA convention)."""
        import torch

        from csr_eval.model_family import processor_inputs

        out = []
        for request in requests:
            context, continuation = request.args[0], request.args[1]
            prompt, image = self._visual((context, None, *request.args[2:6]))
            text = self.runner.prompt_text(prompt)
            processor, model = self.runner.processor, self.runner.model
            full = processor_inputs(model, processor, [image], [text + continuation])  # one row: no padding
            prefix = processor(images=[image], text=[text], return_tensors="pt")["input_ids"].shape[1]
            with torch.inference_mode():
                logits = model(**full).logits[0, prefix - 1:-1].float()
            target = full["input_ids"][0, prefix:]
            loss = torch.nn.functional.cross_entropy(logits, target)
            out.append((float(loss), bool((logits.argmax(-1) == target).all())))
        return out

    def generate_until_multi_round(self, requests) -> List[str]:
        raise NotImplementedError("csr_runner does not implement multi-round generation")
