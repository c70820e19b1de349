"""What TRL's DPOTrainer trains on is, token for token, what the search produced: the prompt it asked with
(BOS included), the answer, and EOS after a complete answer — for a byte-level tokenizer (the micro models)
for LLaVA-1.5's layout (a Llama tokenizer and the llava-hf template, whose own rendering would drop the BOS and
the EOS) and for Qwen2.5-VL's (ChatML: the answer starts with no space and ends with <|im_end|>)."""

from __future__ import annotations

import pytest

from csr_train.config import DpoSettings
from csr_train.dpo import build_trainer
from csr_train.preference_data import TokenizationMismatch, trl_completion, trl_prompt

SETTINGS = DpoSettings(batch_size=2, max_steps=1, lora_r=4, lora_alpha=8,
                       lora_target=r".*language_model.*\.(q_proj|v_proj)")


def _rows(world) -> tuple[list[dict], list[dict]]:
    """Rows of whole answers and rows of steps (after no prefix and after one sentence; one ends the answer)."""
    from csr_train.prompts import load_prompts
    prompts = load_prompts(world / "llava_instruct_150k.json")[:2]
    whole = [{"image": p.image, "prompt": p.text, "chosen": "There is a cup at the top.",
              "rejected": "A dog is in the center. There is a car on the left."} for p in prompts]
    steps = [{"image": p.image, "prompt": p.text, "prefix": prefix, "chosen": "A dog is in the center.",
              "rejected": ""} for p in prompts for prefix in ("", "There is a cup at the top.")]
    return whole, steps


def _trained_sequences(trainer, n: int) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, completion ids) of each collated sequence: the chosen ones, then the rejected ones."""
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(n)])
    out = []
    for ids, real, completion in zip(batch["input_ids"], batch["attention_mask"], batch["completion_mask"]):
        ids, completion = ids[real.bool()].tolist(), completion[real.bool()].bool().tolist()
        start = completion.index(True)
        out.append((ids[:start], ids[start:]))
    return out


# What each layout's template writes between the prompt and the answer, as the search's stream has it.
SEPARATOR = {"micro-llava": " ", "llava-hf": " ", "qwen": ""}


def _searched(processor, image, asked: dict, answer: str, ends: bool, conversation="chat_template", separator=" "):
    """What the search sees: the processor's tokens of the prompt (as ``ModelRunner`` calls it), then the answer's
    tokens as they follow the prompt (after ``separator``) or the answer so far (after a space) in one stream, then
    EOS where the answer ends."""
    from csr_eval.runner import prompt_text

    tok = processor.tokenizer
    context = prompt_text(processor, asked["prompt"], conversation)
    if asked.get("prefix"):
        context, separator = context + separator + asked["prefix"], " "
    prompt = processor(images=[image], text=[context])["input_ids"][0]
    prompt = prompt.tolist() if hasattr(prompt, "tolist") else list(prompt)
    head = tok(context, add_special_tokens=False)["input_ids"]
    answer_ids = tok(context + separator + answer, add_special_tokens=False)["input_ids"][len(head):] if answer else []
    return prompt, answer_ids + ([tok.eos_token_id] if ends or not answer else [])


@pytest.mark.parametrize("layout", ["micro-llava", "llava-hf", "qwen"])
def test_trl_trains_the_searched_prompt_answer_and_eos(layout, csr_world, llava_hf_layout, qwen_layout, tmp_path):
    from transformers import AutoProcessor

    from csr_eval.io import load_rgb_image
    from csr_eval.micro.shipped import shipped_model
    from csr_eval.runner import answer_separator

    base = str({"micro-llava": shipped_model("micro-llava"), "llava-hf": llava_hf_layout, "qwen": qwen_layout}[layout])
    processor = AutoProcessor.from_pretrained(base)
    tok = processor.tokenizer
    assert answer_separator(processor) == SEPARATOR[layout]
    trained = {}
    for kind, rows in zip(("whole", "steps"), _rows(csr_world)):
        trainer, _ = build_trainer(base, rows, csr_world / "images" / "csr", SETTINGS, tmp_path / kind, seed=0)
        trained[kind] = _trained_sequences(trainer, len(rows))
        for j, (row, side) in enumerate([(r, "chosen") for r in rows] + [(r, "rejected") for r in rows]):
            image = load_rgb_image(csr_world / "images" / "csr" / row["image"])
            assert trained[kind][j] == _searched(processor, image, row, row[side], kind == "whole",
                                                 separator=SEPARATOR[layout]), (kind, j)
    if layout == "llava-hf":  # the three tokens TRL's conversational rendering of this template gets wrong
        prompt, completion = trained["whole"][0]
        assert prompt[0] == tok.bos_token_id
        assert tok.convert_ids_to_tokens(completion[0]).startswith("▁") and completion[0] != tok.convert_tokens_to_ids("▁")
        assert completion[-1] == tok.eos_token_id
    if layout == "qwen":  # the answer's first word without the space a LLaVA layout puts before it; <|im_end|>
        completion = trained["whole"][0][1]
        assert tok.decode(completion[:1]) == "There" and tok.convert_ids_to_tokens(completion[-1]) == "<|im_end|>"


def test_the_dpo_prompt_is_the_conversation_the_search_asked_with(csr_world, tmp_path):
    """``conversation: vicuna_v1`` (LLaVA-1.5's own system prompt) reaches the DPO data, not only the search."""
    from transformers import AutoProcessor

    from csr_eval.io import load_rgb_image
    from csr_eval.micro.shipped import shipped_model

    base = str(shipped_model("micro-llava"))
    processor = AutoProcessor.from_pretrained(base)
    rows = _rows(csr_world)[0]
    trainer, _ = build_trainer(base, rows, csr_world / "images" / "csr", SETTINGS, tmp_path, seed=0,
                               conversation="vicuna_v1")
    prompt, completion = _trained_sequences(trainer, len(rows))[0]
    image = load_rgb_image(csr_world / "images" / "csr" / rows[0]["image"])
    assert (prompt, completion) == _searched(processor, image, rows[0], rows[0]["chosen"], True, "vicuna_v1")
    assert processor.tokenizer.decode(prompt).startswith("A chat between a curious user")


def test_rejected_eos_false_leaves_only_the_rejected_answers_end_out(csr_world, tmp_path):
    """``dpo.rejected_eos: false``: the rejected whole answer is trained without its closing EOS (its tokens are
    otherwise the searched ones), the chosen keeps it, and a step pair's rejected end (EOS alone) stays."""
    from dataclasses import replace

    from transformers import AutoProcessor

    from csr_eval.io import load_rgb_image
    from csr_eval.micro.shipped import shipped_model

    base = str(shipped_model("micro-llava"))
    processor = AutoProcessor.from_pretrained(base)
    eos = processor.tokenizer.eos_token_id
    settings = replace(SETTINGS, rejected_eos=False)
    whole, steps = _rows(csr_world)
    trainer, _ = build_trainer(base, whole, csr_world / "images" / "csr", settings, tmp_path / "whole", seed=0)
    trained = _trained_sequences(trainer, len(whole))
    for j, row in enumerate(whole):
        image = load_rgb_image(csr_world / "images" / "csr" / row["image"])
        chosen_prompt, chosen = _searched(processor, image, row, row["chosen"], True)
        rejected_prompt, rejected = _searched(processor, image, row, row["rejected"], True)
        assert trained[j] == (chosen_prompt, chosen) and chosen[-1] == eos
        assert trained[len(whole) + j] == (rejected_prompt, rejected[:-1]) and rejected[-1] == eos
    trainer, _ = build_trainer(base, steps, csr_world / "images" / "csr", settings, tmp_path / "steps", seed=0)
    assert all(completion == [eos] for _, completion in _trained_sequences(trainer, len(steps))[len(steps):])


def test_spellings_follow_the_tokenizer(llava_hf_layout):
    """A byte-level tokenizer needs the answer's leading space written; a Metaspace one (Llama) marks the first
    word itself, written or not; a BOS the tokenizer adds is written out, and after it Llama needs a space to
    keep the first word's mark ("<s>USER" would tokenize USER as a word's inside)."""
    from transformers import AutoProcessor

    from csr_eval.micro.shipped import shipped_model

    llama = AutoProcessor.from_pretrained(str(llava_hf_layout)).tokenizer
    byte_level = AutoProcessor.from_pretrained(str(shipped_model("micro-llava"))).tokenizer
    context = "USER: <image>\nDescribe the image. ASSISTANT:"
    for tok in (llama, byte_level):
        ids = tok(context + " There is a cup.", add_special_tokens=False)["input_ids"]
        spelled = trl_completion(tok, context, " There is a cup.")
        assert tok(spelled, add_special_tokens=False)["input_ids"] == ids[len(tok(context, add_special_tokens=False)["input_ids"]):]
    assert trl_completion(byte_level, context, " There is a cup.") == " There is a cup."
    assert trl_prompt(llama, context) == "<s> " + context
    assert trl_prompt(byte_level, context) == context


def test_a_text_that_cannot_be_spelled_apart_is_an_error():
    """A token that spans the prompt's end and the completion's start has no spelling TRL could tokenize apart."""
    from transformers import AutoProcessor

    from csr_eval.micro.shipped import shipped_model

    tok = AutoProcessor.from_pretrained(str(shipped_model("micro-llava"))).tokenizer
    assert len(tok(" cup", add_special_tokens=False)["input_ids"]) == 1  # " cu" + "p" merge into one token
    with pytest.raises(TokenizationMismatch, match="no spelling"):
        trl_completion(tok, "There is a cu", "p.")


def test_images_are_opened_when_collated_and_a_missing_one_is_named_before_training(csr_world, tmp_path):
    from transformers import AutoProcessor

    from csr_eval.errors import InputError
    from csr_eval.micro.shipped import shipped_model
    from csr_train.preference_data import preference_dataset

    processor = AutoProcessor.from_pretrained(shipped_model("micro-llava"))
    rows = _rows(csr_world)[0]
    dataset = preference_dataset(rows, csr_world / "images" / "csr", processor)
    assert dataset.data.column("images").to_pylist()[0][0]["path"].endswith(rows[0]["image"])  # a path, not pixels
    assert dataset[0]["images"][0].mode == "RGB"
    rows[1] = {**rows[1], "image": "missing.png"}
    with pytest.raises(InputError, match=r"missing\.png.*pair 1"):
        preference_dataset(rows, csr_world / "images" / "csr", processor)


def _sentences_of(tok, ids: list[int]):
    """The sentence nodes the search makes of an answer's token stream: cut after each sentence-end token
    ("." and, in Qwen's vocabulary, ".\\n" and ".\\n\\n"), each decoded as ``SentenceBeamSearch._make_nodes`` does."""
    from csr_train.search import SentenceNode, sentence_end_ids, sentence_text

    ends, nodes, start = sentence_end_ids(tok, ["."]), [], 0
    for i, token in enumerate(ids):
        if token in ends:
            text, lead, tail = sentence_text(tok.decode(ids[start:i + 1], skip_special_tokens=True))
            nodes.append(SentenceNode(len(nodes), len(nodes) - 1, len(nodes) + 1, text, ids[start:i + 1], [], 0.0,
                                      "period", lead=lead, tail=tail))
            start = i + 1
    return nodes


def test_paragraph_breaks_stay_where_the_model_wrote_them(csr_world, qwen_layout, tmp_path):
    """Qwen writes a paragraph's last "." with its line breaks as one token (".\\n\\n"): the search ends the sentence
    there, and the DPO data keeps the break, so TRL trains the searched tokens (joined by spaces, the answer would
    train "." and a space where the model wrote ".\\n\\n")."""
    from transformers import AutoProcessor

    from csr_eval.io import load_rgb_image
    from csr_eval.runner import prompt_text
    from csr_train.curation import Candidate, Step, StepPair, pair_row, sentence_pair_row
    from csr_train.prompts import load_prompts
    from csr_train.search import SearchTree

    processor = AutoProcessor.from_pretrained(str(qwen_layout))
    tok = processor.tokenizer
    written = "There is a cup at the top.\n\nA dog is in the center.\nIt is small."
    prompt = load_prompts(csr_world / "llava_instruct_150k.json")[0]
    context = prompt_text(processor, prompt.text)
    head = tok(context, add_special_tokens=False)["input_ids"]
    stream = tok(context + written, add_special_tokens=False)["input_ids"][len(head):]
    assert tok.convert_ids_to_tokens(stream).count(".ĊĊ") == 1
    tree = SearchTree(prompt.prompt_id, prompt.image, prompt.text, _sentences_of(tok, stream))
    assert [(n.text, n.lead, n.tail) for n in tree.nodes] == [
        ("There is a cup at the top.", "", "\n\n"), ("A dog is in the center.", "", "\n"), ("It is small.", "", "")]
    other = _sentences_of(tok, tok(context + "A dog is in the center.", add_special_tokens=False)["input_ids"][len(head):])
    whole = pair_row(tree, Candidate(tree.nodes, 1.0), Candidate(other, 0.0), iteration=1, n_candidates=2)
    step = sentence_pair_row(tree, StepPair(0, 1, Step(tree.nodes[1], 1.0), Step(None, 0.0)), iteration=1)
    assert whole["chosen"] == written and step["prefix"] == "There is a cup at the top.\n\n"
    image = load_rgb_image(csr_world / "images" / "csr" / prompt.image)
    def asked(text):  # the prompt's tokens as the search's processor call gives them
        return list(processor(images=[image], text=[text])["input_ids"][0])

    first = tok(context + step["prefix"], add_special_tokens=False)["input_ids"][len(head):]
    for rows, expected in (([whole], (asked(context), stream + [tok.eos_token_id])),
                           ([step], (asked(context + step["prefix"]),
                                     stream[len(first):len(first) + len(tree.nodes[1].token_ids)]))):
        trainer, _ = build_trainer(str(qwen_layout), rows, csr_world / "images" / "csr", SETTINGS, tmp_path / "t",
                                   seed=0)
        assert _trained_sequences(trainer, 1)[0] == expected
    assert tok.convert_ids_to_tokens(expected[1])[-1] == ".Ċ"  # the step's sentence keeps its own line break
