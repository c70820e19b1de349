"""LLaVA-W and MM-Vet with an explicit judge endpoint: scored when every review reads, failed — not scored — otherwise.

The judge (GPT-4 in the paper) cannot run here; a local OpenAI-compatible HTTP server on 127.0.0.1 stands
in for it, so the real client, prompt and parsing paths run.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

pytest.importorskip("lmms_eval")

from csr_eval.cli import main  # noqa: E402
from csr_eval.data_config import DataConfig  # noqa: E402
from csr_eval.micro.lmms_export import llava_bench_wild, mm_vet  # noqa: E402
from csr_eval.store import ResultsStore  # noqa: E402


class _Judge(BaseHTTPRequestHandler):
    mode = "ok"
    prompts: list = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).prompts.append(body)
        if type(self).mode == "down":
            self.send_response(500)
            self.end_headers()
            return
        if type(self).mode == "ok":
            text = "0.7" if "correctness score" in body["messages"][-1]["content"] else "8 6\nAssistant 2 names the objects."
        else:
            text = "Both are fine."
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def judge_url():
    server = HTTPServer(("127.0.0.1", 0), _Judge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Judge.prompts = []
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


@pytest.fixture
def bench(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    llava_bench_wild(DataConfig().micro_world(), tmp_path / "wild", n=3)
    return ["--model", "micro-llava", "--suite", "llava_wild", "--set", f"llava_wild.path={tmp_path / 'wild'}",
            "--json"]


def _run(capsys, argv):
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)["benchmarks"]["llava_wild"]


def test_scored_with_llava_review_prompt(bench, judge_url, capsys, tmp_path):
    _Judge.mode = "ok"
    code, result = _run(capsys, bench + ["--judge-url", judge_url, "--judge-model", "judge-x"])
    assert code == 0 and result["status"] == "ok", result
    assert result["metrics"]["relative"] == pytest.approx(75.0)  # 6 / 8
    reviews = [p for p in _Judge.prompts if "[System]" in p["messages"][1]["content"]]
    assert len(reviews) == 3 and all(p["model"] == "judge-x" and p["temperature"] == 0.2 for p in reviews)
    assert "[Assistant 1]\nThe image shows" in reviews[0]["messages"][1]["content"]
    [row] = ResultsStore(tmp_path / "results" / "csr.db").evaluations(benchmark="llava_wild")
    assert row.config["judge_model"] == "judge-x"
    assert all(s["extra"]["scores"] == [8.0, 6.0] for s in ResultsStore(tmp_path / "results" / "csr.db").samples(row.id))


@pytest.mark.parametrize("mode, message", [("down", "failed after"), ("garbled", "unreadable review")])
def test_judge_failure_reports_no_number(bench, judge_url, capsys, mode, message):
    _Judge.mode = mode
    code, result = _run(capsys, bench + ["--judge-url", judge_url, "--judge-model", "judge-x"])
    assert code == 1 and result["status"] == "failed" and result["metrics"] == {}
    assert message in result["reason"]


def test_without_a_judge_it_is_skipped_with_the_reason(bench, capsys):
    code, result = _run(capsys, bench)
    assert code == 0 and result["status"] == "skipped" and "--judge-url" in result["reason"]


def test_mmvet_graded_with_the_official_prompt_and_llava_generation_settings(tmp_path, monkeypatch, judge_url, capsys):
    monkeypatch.chdir(tmp_path)
    mm_vet(DataConfig().micro_world(), tmp_path / "vet", n=3)
    argv = ["--model", "micro-llava", "--suite", "mmvet", "--set", f"mmvet.path={tmp_path / 'vet'}", "--json",
            "--judge-url", judge_url, "--judge-model", "grader"]
    _Judge.mode = "ok"
    code = main(argv)
    result = json.loads(capsys.readouterr().out)["benchmarks"]["mmvet"]
    assert code == 0 and result["status"] == "ok", result
    assert result["metrics"]["total"] == pytest.approx(70.0) and result["metrics"]["n"] == 3
    grades = [p for p in _Judge.prompts if "correctness score" in p["messages"][-1]["content"]]
    assert len(grades) == 3 and all(p["temperature"] == 0.0 and len(p["messages"]) == 1 for p in grades)
    assert "\nWhich objects are in the image? | " in grades[0]["messages"][0]["content"]
    [row] = ResultsStore(tmp_path / "results" / "csr.db").evaluations(benchmark="mmvet")
    questions = [s["question"] for s in ResultsStore(tmp_path / "results" / "csr.db").samples(row.id)]
    assert all(q == "Which objects are in the image?" for q in questions)  # no "think step by step" prefix
    _Judge.mode = "garbled"
    assert main(argv) == 0  # the same settings again: every grade is stored, nothing is asked again
    capsys.readouterr()
    assert main(argv + ["--db", str(tmp_path / "fresh.db")]) == 1
    result = json.loads(capsys.readouterr().out)["benchmarks"]["mmvet"]
    assert result["status"] == "failed" and "unreadable grade" in result["reason"]
