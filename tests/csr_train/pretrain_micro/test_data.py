"""Pretraining data: the chat template, token ids and pixels agree with the real processor; noise rules."""

import random

import pytest

torch = pytest.importorskip("torch")

from csr_eval.micro.models import MicroLlavaConfig, build_processor  # noqa: E402
from csr_eval.micro.world import GRID, SCENE_BY_NAME, render, sample_scene  # noqa: E402
from csr_train.pretrain_micro.data import (MicroStream, Turn, conversation_messages,  # noqa: E402
                                           encode_conversations, noisy_description, pixel_values,
                                           render_conversation)
from csr_train.pretrain_micro.run import tokenizer_corpus  # noqa: E402
from csr_eval.micro.models import train_tokenizer  # noqa: E402


@pytest.fixture(scope="module")
def processor():
    tokenizer = train_tokenizer(tokenizer_corpus(0, n_scenes=400), vocab_size=400)
    return build_processor(tokenizer, MicroLlavaConfig())


def test_conversation_text_equals_the_chat_template(processor):
    stream = MicroStream(1)
    for _ in range(20):
        turns = stream.conversation(stream.scene(), caption_turn=1.0, qa_turns=2, hard_negative_p=0.5)
        text, _ = render_conversation(turns)
        assert text == processor.apply_chat_template(conversation_messages(turns), tokenize=False)


def test_ids_equal_the_processor_and_only_answers_are_supervised(processor):
    stream = MicroStream(2)
    scenes = [stream.scene() for _ in range(4)]
    conversations = [stream.conversation(s, 1.0, 2, 0.5) for s in scenes]
    batch = encode_conversations(processor.tokenizer, conversations, image_tokens=65, answer_weight=5.0)
    tok = processor.tokenizer
    for b, turns in enumerate(conversations):
        text, _ = render_conversation(turns)
        ref = processor(images=[render(scenes[b])], text=[text], return_tensors="pt")["input_ids"][0]
        ids = batch["input_ids"][b][batch["attention_mask"][b].bool()]
        assert torch.equal(ids, ref)
        supervised = tok.decode(ids[batch["weights"][b][:len(ids)] > 0])
        assert supervised.replace(" ", "") == "".join(t.answer + "</s>" for t in turns).replace(" ", "")
        answers = [tok.convert_ids_to_tokens(int(i)) for i in ids[batch["yes_no"][b][:len(ids)]]]
        assert answers == ["Ġ" + t.answer for t in turns if t.is_yes_no]
        assert set(batch["weights"][b][batch["yes_no"][b]].tolist()) == {5.0}


def test_pixels_equal_the_image_processor(processor):
    images = [render(sample_scene(random.Random(i))) for i in range(3)]
    ref = processor.image_processor(images, return_tensors="pt")["pixel_values"]
    assert torch.allclose(pixel_values(images), ref, atol=1e-5)


def test_noise_names_an_absent_same_scene_object_at_a_free_cell_and_goes_last_for_one_object():
    rng = random.Random(0)
    seen_end_noise = 0
    for _ in range(400):
        scene = sample_scene(rng)
        clean = [s for s in noisy_description(scene, random.Random(1), 0.0, 0.0).split(". ")]
        text = noisy_description(scene, rng, noise_p=1.0, end_noise_p=1.0)
        sentences = text.split(". ")
        if len(sentences) == len(clean):
            assert all(n in scene.object_names for n in SCENE_BY_NAME[scene.scene_type].objects) or \
                len(scene.objects) == GRID * GRID
            continue
        extra = [s for s in sentences if not any(f" {n} " in f" {s} " for n in scene.object_names)]
        assert len(extra) == 1
        assert any(f" {n} " in f" {extra[0]} " for n in SCENE_BY_NAME[scene.scene_type].objects)
        if len(scene.objects) == 1:
            assert sentences[-1].rstrip(".") == extra[0].rstrip(".")
            seen_end_noise += 1
    assert seen_end_noise > 30


def test_stream_is_reproducible_from_the_seed():
    a, b = MicroStream(5), MicroStream(5)
    for _ in range(5):
        sa, sb = a.scene(), b.scene()
        assert sa == sb
        assert a.conversation(sa, 0.5, 2, 0.5) == b.conversation(sb, 0.5, 2, 0.5)
    assert MicroStream(6).scene() != MicroStream(5).scene()


def test_turn_spans_cover_answer_and_eos():
    text, spans = render_conversation([Turn("Q?", "Yes", True), Turn("D.", "A dog.", False)])
    assert [text[s:e] for s, e, _ in spans] == ["Yes</s>", "A dog.</s>"]
