"""Run a Hugging Face image-text-to-text model on (image, prompt) requests.

Why one runner: every benchmark, the micro-model checks and the CSR loop ask the same thing of a
checkpoint — answer this prompt about this image — and must build the prompt exactly as the model's
own chat template does (LLaVA-1.5: ``USER: <image>\\n{prompt} ASSISTANT:``). The runner loads with the
standard ``AutoModelForImageTextToText`` / ``AutoProcessor`` calls, never with ``trust_remote_code``
unless asked, pads on the left for batched generation and returns only the new text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from csr_eval.errors import CsrEvalError, InputError


@dataclass
class GenerationSettings:
    max_new_tokens: int = 64
    do_sample: bool = False
    num_beams: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0

    def kwargs(self) -> dict:
        out = {"max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams, "do_sample": self.do_sample}
        if self.do_sample:  # plain temperature sampling: transformers would otherwise apply top_k=50
            out.update(temperature=self.temperature, top_p=self.top_p, top_k=0)
        return out


def user_message(prompt: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]


def chat_prompt(processor, prompt: str) -> str:
    """The user turn rendered by the processor's chat template, up to where the assistant's answer starts."""
    return processor.apply_chat_template(user_message(prompt), add_generation_prompt=True, tokenize=False)


# LLaVA-1.5's own evaluation scripts and the official CSR code use the vicuna_v1 conversation, with this system
# prompt (llava/conversation.py conv_vicuna_v1: "user"; conv_vicuna_v0's says "human"); the llava-hf chat template
# has no system prompt. Both are selectable; "chat_template" is the default.
VICUNA_V1_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
                    "The assistant gives helpful, detailed, and polite answers to the user's questions.")
CONVERSATION_FORMATS = ("chat_template", "vicuna_v1")
DTYPES = ("auto", "float32", "bfloat16", "float16")


def prompt_text(processor, prompt: str, conversation: str = "chat_template") -> str:
    """The text a model is asked with, up to where its answer starts: the chat template's user turn, or
    LLaVA-1.5's vicuna_v1 conversation (the search, the evaluation and the DPO data all ask this function)."""
    if conversation == "vicuna_v1":
        image_token = getattr(processor, "image_token", "<image>")
        if image_token != "<image>":
            raise CsrEvalError(f"conversation vicuna_v1 is LLaVA-1.5's, with its <image> token; this processor's image "
                               f"token is {image_token!r}: use the model's own chat template (chat_template)")
        return f"{VICUNA_V1_SYSTEM} USER: <image>\n{prompt} ASSISTANT:"
    return chat_prompt(processor, prompt)


def answer_separator(processor, conversation: str = "chat_template") -> str:
    """What the conversation writes between :func:`prompt_text` and the answer, as the model learnt it: a space
    after LLaVA's ``ASSISTANT:`` (vicuna_v1, llava-hf), nothing after ChatML's ``<|im_start|>assistant`` line (Qwen).
    Read from the template by rendering an answer; a template whose prompt does not begin that rendering is an
    error (where the answer starts would be a guess)."""
    if conversation == "vicuna_v1":
        return " "
    marker = "Answer"
    asked = chat_prompt(processor, "Question?")
    answered = processor.apply_chat_template(
        user_message("Question?") + [{"role": "assistant", "content": [{"type": "text", "text": marker}]}],
        tokenize=False)
    if not answered.startswith(asked) or marker not in answered[len(asked):]:
        raise CsrEvalError(f"the chat template's prompt {asked[-40:]!r} does not begin its rendering of an answer "
                           f"{answered[-60:]!r}: where the answer starts is unknown")
    return answered[len(asked):answered.index(marker, len(asked))]


def torch_dtype(name: str):
    """A :data:`DTYPES` name as ``from_pretrained`` takes it ("auto": the checkpoint's own)."""
    import torch

    if name not in DTYPES:
        raise InputError(None, f"dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return name if name == "auto" else getattr(torch, name)


def load_processor(path: str | Path, pad_to_square: bool = False, trust_remote_code: bool = False):
    """The checkpoint's processor, with LLaVA-1.5's padding where asked (the search, DPO and evaluation all load
    it here, so they see the same pixels)."""
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(path, trust_remote_code=trust_remote_code)
    if pad_to_square:
        pad_images_to_square(processor)
    return processor


def pad_images_to_square(processor) -> None:
    """LLaVA-1.5's own image preprocessing (its ``image_aspect_ratio: pad``, which the released CSR code trains with
    too): each image expanded to a square with the mean colour, then CLIP's resize (the crop then cuts nothing) —
    transformers' ``LlavaImageProcessor`` with ``do_pad``. llava-hf's checkpoints resize and centre-crop instead,
    which cuts the long side off a non-square image and shifts scores a little."""
    from transformers import CLIPImageProcessor, LlavaImageProcessor

    current = processor.image_processor
    if not isinstance(current, (CLIPImageProcessor, LlavaImageProcessor)):
        raise CsrEvalError(f"pad_to_square is LLaVA-1.5's preprocessing of a CLIP image processor; this model's image "
                           f"processor is {type(current).__name__}")
    settings = {key: value for key, value in current.to_dict().items() if key != "image_processor_type"}
    processor.image_processor = LlavaImageProcessor(**{**settings, "do_pad": True})


class ModelRunner:
    """A loaded checkpoint (a folder or a Hub id) and its processor."""

    def __init__(self, model, processor, batch_size: int = 16, conversation: str = "chat_template",
                 share_images: bool = True):
        if conversation not in CONVERSATION_FORMATS:
            raise ValueError(f"conversation must be one of {CONVERSATION_FORMATS}, got {conversation!r}")
        self.model, self.processor, self.batch_size = model, processor, batch_size
        self.conversation = conversation
        # greedy questions about the same image: one prefill of the image per batch (shared_image_decoding)
        self.share_images = share_images
        self.processor.tokenizer.padding_side = "left"

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", dtype: str = "auto", batch_size: int = 16,
             adapter: str | Path | None = None, conversation: str = "chat_template",
             trust_remote_code: bool = False, share_images: bool = True, pad_to_square: bool = False) -> "ModelRunner":
        """Load a model folder or hub id, optionally with an unmerged PEFT (LoRA) adapter on top;
        ``pad_to_square``: LLaVA-1.5's own image preprocessing (:func:`pad_images_to_square`)."""
        import torch
        from transformers import AutoModelForImageTextToText

        if Path(str(path)).exists() and not (Path(path) / "config.json").is_file():
            raise InputError(path, "not a model folder: config.json is missing")
        if adapter is not None and not (Path(adapter) / "adapter_config.json").is_file():
            raise InputError(adapter, "not a PEFT adapter folder: adapter_config.json is missing")
        weights_dtype = torch_dtype(dtype)
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise InputError(None, f"device {device!r}: torch sees no CUDA GPU on this machine (use cpu here)")
        try:
            processor = load_processor(path, pad_to_square, trust_remote_code)
            model = AutoModelForImageTextToText.from_pretrained(path, dtype=weights_dtype,
                                                                trust_remote_code=trust_remote_code)
        except OSError as exc:  # neither a model folder nor a Hub id that can be fetched from here
            raise InputError(path, f"cannot load a model from it: {exc}") from None
        if adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter))
        model.to(device).eval()
        return cls(model, processor, batch_size, conversation, share_images)

    def prompt_text(self, prompt: str) -> str:
        return prompt_text(self.processor, prompt, self.conversation)

    def generate(self, images: Sequence, prompts: Sequence[str], settings: GenerationSettings | None = None,
                 progress=None) -> list[str]:
        """One answer per (image, prompt), in order; sampling is seeded once per call.

        Greedy requests are grouped by image; a batch then holds ``batch_size`` images with all their questions,
        and each image is prefilled once (:mod:`csr_eval.shared_image_decoding`) — unless no image of the batch
        is asked twice, ``share_images`` is off or the model's generation config applies logits processing:
        then ``batch_size`` requests go through ``generate``."""
        import torch

        from csr_eval.shared_image_decoding import greedy_answers, why_not_shareable

        settings = settings or GenerationSettings()
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images but {len(prompts)} prompts")
        torch.manual_seed(settings.seed)
        share = self.share_images and not settings.do_sample and settings.num_beams == 1 and \
            why_not_shareable(self.model) is None
        answers: dict[int, str] = {}
        for rows, keys in self._batches(images, share):
            batch_images = [images[i] for i in rows]
            texts = [self.prompt_text(prompts[i]) for i in rows]
            repeated = keys is not None and len(set(keys)) < len(keys)  # else nothing to share
            new = greedy_answers(self.model, self.processor, batch_images, texts, settings.max_new_tokens, keys) \
                if repeated else None
            if new is None:  # batch_size requests at a time
                new = [tokens for start in range(0, len(rows), self.batch_size)
                       for tokens in self._generate(batch_images[start:start + self.batch_size],
                                                    texts[start:start + self.batch_size], settings)]
            decoded = self.processor.batch_decode(new, skip_special_tokens=True)
            answers.update({i: text.strip() for i, text in zip(rows, decoded)})
            if progress:
                progress(len(answers), len(prompts))
        return [answers[i] for i in range(len(prompts))]

    def _generate(self, images: Sequence, texts: Sequence[str], settings: GenerationSettings):
        """``generate``'s new tokens for one batch (left-padded)."""
        import torch

        from csr_eval.model_family import processor_inputs

        inputs = processor_inputs(self.model, self.processor, images, texts)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **settings.kwargs())
        return out[:, inputs["input_ids"].shape[1]:]

    def _batches(self, images: Sequence, share: bool):
        """(request indices, their images' keys or None when not sharing) per batch: ``batch_size`` requests,
        or, sharing, ``batch_size`` images with all their requests."""
        from csr_eval.shared_image_decoding import image_key, rows_by_key

        if not share:
            for start in range(0, len(images), self.batch_size):
                yield list(range(start, min(start + self.batch_size, len(images)))), None
            return
        keys = [image_key(image) for image in images]
        groups = rows_by_key(keys)
        for start in range(0, len(groups), self.batch_size):
            rows = [i for group in groups[start:start + self.batch_size] for i in group]
            yield rows, [keys[i] for i in rows]
