"""The sample viewer: an image, its question and up to four models' answers side by side (Figure 7).

Captions are coloured by CHAIR's own parser (hallucinated objects red, correct ones green); POPE and MME
answers are marked right or wrong and can be filtered to mistakes. Samples come one page at a time.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd
import streamlit as st

from csr_eval.benchmarks.chair import CocoObjectVocabulary
from leaderboard.columns import ALL_SPLITS
from leaderboard.context import Context, results_view
from leaderboard.highlight import caption_html, mark
from leaderboard.queries import PageQuery

MAX_MODELS = 4
PAGE_SIZE = 10
ALL = "all"


@st.cache_resource(show_spinner=False)
def vocabulary() -> CocoObjectVocabulary:
    return CocoObjectVocabulary.reference()


@st.cache_data(show_spinner=False, max_entries=64)
def cached_count(location: str, version: tuple, page: PageQuery) -> int:
    return results_view(location).count(page)


@st.cache_data(show_spinner=False, max_entries=64)
def cached_page(location: str, version: tuple, page: PageQuery, offset: int, limit: int) -> pd.DataFrame:
    return results_view(location).page(page, offset, limit)


@st.cache_data(show_spinner=False, max_entries=64)
def cached_splits(location: str, version: tuple, evaluation_ids: tuple[int, ...]) -> list[str]:
    return results_view(location).splits(evaluation_ids)


def is_caption_benchmark(benchmark: str) -> bool:
    return benchmark.endswith("chair")


def answer_html(row: pd.Series, benchmark: str) -> str:
    if is_caption_benchmark(benchmark):
        truth = (row["extra"] or {}).get("ground_truth")
        if truth is not None:
            return caption_html(row["answer"], truth, vocabulary())
    text = html.escape(row["answer"])
    if row["correct"] is None or pd.isna(row["correct"]):
        return text
    verdict = "right" if row["correct"] else "wrong"
    expected = expected_yes_no(row)
    hint = f" (expected {expected})" if expected and not row["correct"] else ""
    return f"{text} {mark(verdict + hint, verdict)}"


def expected_yes_no(row: pd.Series) -> str | None:
    """POPE and MME are yes/no: a wrong "yes" means "no" was expected (and the reverse)."""
    parsed = str(row["parsed"] or "").lower()
    if parsed not in ("yes", "no"):
        return None
    return parsed if row["correct"] else {"yes": "no", "no": "yes"}[parsed]


def render(context: Context) -> None:
    st.title("Samples")
    evaluations = context.evaluations
    if evaluations.empty:
        st.warning("No evaluations for the selected models and benchmarks.")
        return
    benchmark = st.selectbox("Benchmark", context.benchmarks, key="sample_benchmark")
    have = evaluations[evaluations["benchmark"] == benchmark].set_index("model")["evaluation_id"]
    options = [m for m in context.selected if m in have.index]
    models = st.multiselect(f"Models (up to {MAX_MODELS})", options, default=options[:MAX_MODELS],
                            max_selections=MAX_MODELS, key=f"sample_models_{benchmark}")
    if not models:
        st.info("Pick at least one model.")
        return
    ids = tuple(int(have[m]) for m in models)
    splits = cached_splits(context.location, context.version, ids)
    split = None
    if splits:
        default = context.split if context.split in splits else ALL
        choices = [ALL] + splits
        split = st.selectbox("Split", choices, index=choices.index(default), key="sample_split")
        split = None if split in (ALL, ALL_SPLITS) else split
    label = "Only captions with a hallucination" if is_caption_benchmark(benchmark) else "Only mistakes"
    mistakes = st.checkbox(label, key="mistakes", help="samples that at least one of the chosen models got wrong")
    query = PageQuery(ids, split, mistakes)
    total = cached_count(context.location, context.version, query)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    number = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1, key="page")
    st.caption(f"{total} samples · {len(models)} model(s) · page {number} of {pages}")
    rows = cached_page(context.location, context.version, query, (int(number) - 1) * PAGE_SIZE, PAGE_SIZE)
    by_evaluation = {int(have[m]): m for m in models}
    for sample_id, sample in rows.groupby("sample_id", sort=False):
        show_sample(sample_id, sample, models, by_evaluation, benchmark)


def show_sample(sample_id: str, sample: pd.DataFrame, models: list[str], by_evaluation: dict[int, str],
                benchmark: str) -> None:
    st.divider()
    first = sample.iloc[0]
    left, right = st.columns([1, 3])
    image = (first["extra"] or {}).get("image")
    if image and Path(image).is_file():
        left.image(image, caption=f"sample {sample_id}", width=220)
    else:
        left.caption(f"sample {sample_id}: image {'not found: ' + image if image else 'not recorded'}")
    right.markdown(f"**Question** ({first['split'] or 'no split'}): {first['question']}")
    answers = {by_evaluation[int(r["evaluation_id"])]: r for _, r in sample.iterrows()}
    for column, model in zip(right.columns(len(models)), models):
        column.markdown(f"**{model}**")
        if model in answers:
            column.markdown(answer_html(answers[model], benchmark), unsafe_allow_html=True)
        else:
            column.caption("— (not evaluated on this sample)")
