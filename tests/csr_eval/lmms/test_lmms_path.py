"""The lmms-eval path, offline: our model class through lmms-eval's evaluator on a local dataset."""

import pytest

pytest.importorskip("lmms_eval")

from csr_eval.data_config import DataConfig  # noqa: E402
from csr_eval.evaluate import Evaluator, RunSettings  # noqa: E402
from csr_eval.lmms.model import CsrRunnerLmms, cut_at_stop_strings  # noqa: E402
from csr_eval.registry import ResolvedModel  # noqa: E402
from csr_eval.micro.shipped import shipped_model  # noqa: E402
from csr_eval.store import ResultsStore  # noqa: E402


def test_entry_point_registers_csr_runner():
    from lmms_eval.models import get_model

    assert get_model("csr_runner") is CsrRunnerLmms


def test_stop_strings_cut_the_answer():
    assert cut_at_stop_strings("Yes.\n\nUSER: more", ["\n\n"]) == "Yes."
    assert cut_at_stop_strings("A dog. ASSISTANT: x", "ASSISTANT:") == "A dog. "
    assert cut_at_stop_strings("No", []) == "No"


def test_unknown_model_args_are_refused():
    with pytest.raises(ValueError, match="unknown model_args"):
        CsrRunnerLmms(pretrained="x", temprature=0)


def test_micro_pope_through_lmms_eval_gives_the_native_answers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = ResultsStore(tmp_path / "r.db")
    model = ResolvedModel("micro-llava", str(shipped_model("micro-llava")))
    evaluator = Evaluator(model, store, DataConfig(), RunSettings(limit=6, batch_size=8))
    via_lmms = evaluator.run_benchmark("micro_pope_lmms")
    native = evaluator.run_benchmark("micro_pope")
    assert via_lmms.status == "ok", via_lmms.reason
    assert via_lmms.metrics == native.metrics
    answers = {s["sample_id"]: s["answer"] for s in store.samples(via_lmms.evaluation_id)}
    assert answers == {s["sample_id"]: s["answer"] for s in store.samples(native.evaluation_id)}
    assert len(answers) == 18 and set(answers.values()) <= {"Yes", "No"}
    [row] = store.evaluations(benchmark="micro_pope_lmms")
    assert row.config["path"].startswith("lmms-eval 0.7.3")
