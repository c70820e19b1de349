"""Eq. 2, 3 and 4 on hand-computed values, and R_I with the shipped micro-CLIP."""

import math
import random

import pytest
import torch

from csr_train.reward import (calibrated_reward, image_relevance_score, instruction_following_score,
                              response_reward)


def test_eq2_is_the_product_of_token_probabilities():
    assert instruction_following_score([math.log(0.5), math.log(0.4)]) == pytest.approx(0.2)
    assert instruction_following_score([0.0]) == 1.0
    with pytest.raises(ValueError):
        instruction_following_score([])


def test_eq3_is_clipped_100_cos():
    assert image_relevance_score(0.31) == pytest.approx(31.0)
    assert image_relevance_score(-0.2) == 0.0


def test_eq4_mixes_with_lambda():
    assert calibrated_reward(30.0, 0.2, lam=0.9) == pytest.approx(27.02)
    assert calibrated_reward(30.0, 0.2, lam=1.0) == 30.0  # Only-R_I
    assert calibrated_reward(30.0, 0.2, lam=0.0) == 0.2  # Only-R_T
    with pytest.raises(ValueError, match="λ"):
        calibrated_reward(1.0, 1.0, lam=1.5)


def test_response_reward_mean_or_sum():
    assert response_reward([27.0, 21.0, 3.0]) == pytest.approx(17.0)
    assert response_reward([27.0, 21.0, 3.0], "sum") == pytest.approx(51.0)
    with pytest.raises(ValueError, match="aggregate"):
        response_reward([1.0], "max")


def test_micro_clip_relevance_prefers_present_objects_and_batches_consistently():
    pytest.importorskip("open_clip")
    from csr_eval.micro.language import object_sentence
    from csr_eval.micro.world import render, sample_scene
    from csr_train.reward import ClipRelevance

    clip = ClipRelevance.micro()
    rng = random.Random(5)
    wins = total = 0
    for _ in range(10):
        scene = sample_scene(rng)
        image = clip.embed_image(render(scene))
        absent = [n for n in ("dog", "cup", "tv", "car") if n not in scene.object_names][0]
        sentences = [object_sentence(scene.objects[0].category, scene.objects[0].position),
                     object_sentence(absent, scene.objects[0].position)]
        batch = clip.scores(image, sentences)
        single = [clip.scores(image, [s])[0] for s in sentences]
        assert batch == pytest.approx(single, abs=1e-4)
        assert all(s >= 0 for s in batch)
        wins += batch[0] > batch[1]
        total += 1
    assert wins >= 8
    long = "There is a dog " + "and a dog " * 40 + "."
    assert len(clip.scores(image, [long])) == 1  # truncated to the context, no error


def test_repeated_sentences_are_embedded_once_and_mapped_back(micro_clip):
    texts = ["A car is in the center.", "A dog is at the left.", "A car is in the center."]
    together = micro_clip.embed_sentences(texts)
    assert torch.equal(together[0], together[2])
    alone = micro_clip.embed_sentences(["A dog is at the left."])[0]
    assert torch.allclose(together[1], alone, atol=1e-6)
