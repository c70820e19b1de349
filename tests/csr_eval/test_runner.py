"""The model runner: LLaVA-1.5 prompt layout, left padding that does not change answers, seeded sampling."""

import random

import pytest

torch = pytest.importorskip("torch")

from csr_eval.errors import InputError  # noqa: E402
from csr_eval.micro.language import CHAIR_PROMPT, SHORT_ANSWER_SUFFIX, pope_question  # noqa: E402
from csr_eval.micro.shipped import shipped_model  # noqa: E402
from csr_eval.micro.world import render, sample_scene  # noqa: E402
from csr_eval.runner import GenerationSettings, ModelRunner  # noqa: E402


@pytest.fixture(scope="module")
def runner():
    return ModelRunner.load(shipped_model("micro-llava"), batch_size=8)


def test_prompt_is_llava_15_layout(runner):
    assert runner.prompt_text("Describe.") == "USER: <image>\nDescribe. ASSISTANT:"


def test_vicuna_v1_prompt_is_llavas_conv_vicuna_v1(runner):
    """LLaVA's conv_vicuna_v1.get_prompt() for one image question (llava/conversation.py, SeparatorStyle.TWO)."""
    vicuna = ModelRunner(runner.model, runner.processor, conversation="vicuna_v1")
    assert vicuna.prompt_text("Is there a dog in the image?") == (
        "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
        "detailed, and polite answers to the user's questions. USER: <image>\nIs there a dog in the image? ASSISTANT:")


def test_vicuna_v1_on_a_processor_with_another_image_token_is_an_error(runner):
    """Qwen's processor reads <|image_pad|>: LLaVA's <image> in the text would leave the image out of the prompt."""
    import copy

    from csr_eval.errors import CsrEvalError
    from csr_eval.runner import prompt_text

    qwen_like = copy.copy(runner.processor)
    qwen_like.image_token = "<|image_pad|>"
    with pytest.raises(CsrEvalError, match="chat_template"):
        prompt_text(qwen_like, "Describe.", "vicuna_v1")


def test_batched_left_padded_answers_equal_one_by_one(runner):
    rng = random.Random(4)
    images = [render(sample_scene(rng)) for _ in range(6)]
    prompts = [CHAIR_PROMPT, pope_question("dog") + SHORT_ANSWER_SUFFIX, pope_question("traffic light"),
               CHAIR_PROMPT, pope_question("cup") + SHORT_ANSWER_SUFFIX, "Is there a tv in the image?"]
    settings = GenerationSettings(max_new_tokens=24)
    batched = runner.generate(images, prompts, settings)
    single = [runner.generate([im], [p], settings)[0] for im, p in zip(images, prompts)]
    assert batched == single
    assert all(isinstance(a, str) and a for a in batched)


def _questions_about_few_images(seed: int, images: int, questions: int):
    rng = random.Random(seed)
    pictures = [render(sample_scene(rng)) for _ in range(images)]
    names = ["dog", "car", "person", "cup", "chair", "traffic light", "bottle"]
    asked = [(pictures[k % images].copy(), CHAIR_PROMPT if k % 4 == 0 else
              pope_question(names[k % len(names)]) + SHORT_ANSWER_SUFFIX) for k in range(questions)]
    return [image for image, _ in asked], [prompt for _, prompt in asked]


def test_questions_sharing_an_image_answer_as_generate_does_one_by_one(runner):
    """Each image is prefilled once per batch; a question attends to that one copy (csr_eval.cascade). The
    images are separate loads of equal pixels, as a benchmark's per-question loads are."""
    images, prompts = _questions_about_few_images(5, images=3, questions=13)
    settings = GenerationSettings(max_new_tokens=24)
    shared = runner.generate(images, prompts, settings)
    plain = ModelRunner(runner.model, runner.processor, batch_size=1, share_images=False)
    assert shared == plain.generate(images, prompts, settings)
    assert runner.share_images and len(set(shared)) > 2


def test_a_layout_with_the_question_before_the_image_is_not_shared(runner):
    from csr_eval.shared_image_decoding import greedy_answers

    images, _ = _questions_about_few_images(7, images=1, questions=2)
    texts = ["USER: Is there a dog? <image>\n ASSISTANT:", "USER: Is there a cat? <image>\n ASSISTANT:"]
    assert greedy_answers(runner.model, runner.processor, images, texts, max_new_tokens=4) is None
    image_first = [runner.prompt_text("Is there a dog?"), runner.prompt_text("Is there a cat?")]
    assert greedy_answers(runner.model, runner.processor, images, image_first, max_new_tokens=4) is not None


def test_a_generation_config_with_logits_processing_falls_back_to_generate(runner):
    from csr_eval.shared_image_decoding import why_not_shareable

    assert why_not_shareable(runner.model) is None
    runner.model.generation_config.repetition_penalty = 1.05  # as Qwen2.5-VL-Instruct ships
    try:
        assert why_not_shareable(runner.model) == "generation_config.repetition_penalty = 1.05"
        images, prompts = _questions_about_few_images(6, images=2, questions=4)
        penalised = runner.generate(images, prompts, GenerationSettings(max_new_tokens=24))
        plain = ModelRunner(runner.model, runner.processor, batch_size=1, share_images=False)
        assert penalised == plain.generate(images, prompts, GenerationSettings(max_new_tokens=24))
    finally:
        runner.model.generation_config.repetition_penalty = 1.0


def test_sampling_is_reproducible_from_the_seed(runner):
    images = [render(sample_scene(random.Random(9)))] * 4
    prompts = [CHAIR_PROMPT] * 4
    a = runner.generate(images, prompts, GenerationSettings(do_sample=True, temperature=1.0, seed=1))
    b = runner.generate(images, prompts, GenerationSettings(do_sample=True, temperature=1.0, seed=1))
    assert a == b


def test_folder_without_config_is_named(tmp_path):
    with pytest.raises(InputError, match="config.json is missing"):
        ModelRunner.load(tmp_path)


def test_a_model_that_cannot_be_loaded_is_named(tmp_path):
    """Neither a folder nor a Hub id fetchable from here: an InputError naming it, not transformers' OSError."""
    with pytest.raises(InputError, match="/no/such/model: cannot load a model from it"):
        ModelRunner.load("/no/such/model")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_is_named():
    with pytest.raises(InputError, match="device 'cuda'.*no CUDA GPU"):
        ModelRunner.load(shipped_model("micro-llava"), device="cuda")


def test_pad_to_square_is_llava15s_expand2square(tmp_path):
    """LLaVA-1.5's ``expand2square`` (llava/mm_utils.py: the image pasted in the middle of a square of the image
    mean's colour) followed by the CLIP processor gives exactly the padded processor's pixels on a non-square image;
    the llava-hf processor's centre crop differs."""
    import numpy as np
    from PIL import Image

    from csr_eval.errors import CsrEvalError
    from csr_eval.runner import pad_images_to_square

    cropping = ModelRunner.load(shipped_model("micro-llava")).processor.image_processor
    padded = ModelRunner.load(shipped_model("micro-llava"), pad_to_square=True).processor.image_processor
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (41, 97, 3), dtype=np.uint8))
    square = Image.new("RGB", (97, 97), tuple(int(x * 255) for x in cropping.image_mean))
    square.paste(image, (0, (97 - 41) // 2))
    pixels = lambda processor, img: processor(images=[img], return_tensors="pt")["pixel_values"]  # noqa: E731
    assert pixels(padded, image).equal(pixels(cropping, square))
    assert not pixels(cropping, image).equal(pixels(cropping, square))
    with pytest.raises(CsrEvalError, match="pad_to_square.*Qwen2VLImageProcessor"):
        pad_images_to_square(ModelRunner.load(shipped_model("micro-qwen")).processor)
