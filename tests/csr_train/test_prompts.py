"""The prompt set: LLaVA-Instruct and the released CSR format, clear errors, seeded samples."""

import json

import pytest

from csr_eval.errors import InputError
from csr_train.prompts import load_prompts, prompts_for_iteration


def test_reads_llava_instruct_and_released_csr_format(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps([
        {"id": "a", "image": "a.png", "conversations": [{"from": "human", "value": "<image>\nDescribe it."},
                                                         {"from": "gpt", "value": "x"}]},
        {"id": 7, "image": "b.png", "input": "Describe the image in detail."}]))
    prompts = load_prompts(path)
    assert [(p.prompt_id, p.image, p.text) for p in prompts] == [("a", "a.png", "Describe it."),
                                                                  ("7", "b.png", "Describe the image in detail.")]


@pytest.mark.parametrize("content, message", [
    ("[{]", "not valid JSON"),
    ('{"id": 1}', "JSON list"),
    ('[{"id": "a", "image": "a.png"}]', "entry 0"),
    ('[{"id": "a", "image": "a.png", "input": "x"}, {"id": "a", "image": "b.png", "input": "y"}]', "duplicate"),
])
def test_bad_prompt_files_name_the_file_and_entry(tmp_path, content, message):
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as err:
        load_prompts(path)
    assert str(path) in str(err.value)


def test_seeded_sample_per_iteration(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"id": str(i), "image": f"{i}.png", "input": "x"} for i in range(50)]))
    prompts = load_prompts(path)
    a1, a1_again = prompts_for_iteration(prompts, 10, 0, 1), prompts_for_iteration(prompts, 10, 0, 1)
    a2, b1 = prompts_for_iteration(prompts, 10, 0, 2), prompts_for_iteration(prompts, 10, 1, 1)
    assert a1 == a1_again and len(a1) == 10 and a1 != a2 and a1 != b1
    assert [int(p.prompt_id) for p in a1] == sorted(int(p.prompt_id) for p in a1)
    assert prompts_for_iteration(prompts, 0, 0, 1) == prompts
