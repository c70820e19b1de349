"""An explicit judge endpoint for the judged benchmarks (LLaVA-W), which never scores silently.

lmms-eval turns a failed judge call into a score (LLaVA-W: [-1, -1] averaged in; MM-Vet: 0) and reports a
number anyway. Here the judge is an OpenAI-compatible chat endpoint the user names (``--judge-url``,
``--judge-model``; the key, if any, from the environment variable ``CSR_JUDGE_API_KEY``, never from a file
in the repo); it is checked before the benchmark runs, and any failed or unreadable review makes the
benchmark *failed*, with the reason, instead of producing a number.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from csr_eval.errors import CsrEvalError

KEY_VARIABLE = "CSR_JUDGE_API_KEY"


class JudgeError(CsrEvalError):
    """The judge could not be reached or gave an answer that cannot be read; no score is reported."""


@dataclass
class JudgeSettings:
    url: str  # base URL of an OpenAI-compatible API, e.g. https://api.openai.com/v1 or http://localhost:8000/v1
    model: str
    temperature: float = 0.2  # LLaVA's eval_gpt_review_bench.py
    max_tokens: int = 1024
    timeout_s: float = 120.0
    retries: int = 3


class Judge:
    def __init__(self, settings: JudgeSettings):
        self.settings = settings

    def ask(self, system: str | None, content: str, temperature: float | None = None) -> str:
        """The judge's reply text; raises :class:`JudgeError` after ``retries`` failed attempts."""
        import httpx

        s = self.settings
        headers = {"Content-Type": "application/json"}
        if os.environ.get(KEY_VARIABLE):
            headers["Authorization"] = f"Bearer {os.environ[KEY_VARIABLE]}"
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]
        body = {"model": s.model, "temperature": s.temperature if temperature is None else temperature,
                "max_tokens": s.max_tokens, "messages": messages}
        last = None
        for attempt in range(s.retries):
            try:
                response = httpx.post(s.url.rstrip("/") + "/chat/completions", json=body, headers=headers,
                                      timeout=s.timeout_s)
                response.raise_for_status()
                return response.json()["choices"][0]["message"]["content"]
            except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
                last = exc
                time.sleep(min(2.0 * attempt, 5.0))
        raise JudgeError(f"judge {s.model} at {s.url} failed after {s.retries} attempts: {last}")

    def check(self) -> None:
        """One small request before a benchmark spends time generating answers."""
        self.ask("You are a helpful assistant.", "Reply with the word ready.")
