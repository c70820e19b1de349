"""VizWiz-VQA (and VQA-v2 style) accuracy with the standard answer normalisation.

Reference: the VQA evaluation used by the EvalAI servers (LLaVA's ``m4c_evaluator.EvalAIAnswerProcessor``
for normalisation): lower-case, expand contractions, strip punctuation the VQA way, number words to
digits, drop articles. Accuracy of an answer against the 10 human answers is ``min(#agreeing / 3, 1)``;
the official scorer averages that over the 10 leave-one-annotator-out subsets (``leave_one_out=True``,
the default, which is what the servers report); ``leave_one_out=False`` gives the plain formula.
LLaVA-1.5 asks VizWiz with "When the provided information is insufficient, respond with 'Unanswerable'."
"""

from __future__ import annotations

import re
from typing import Sequence

from csr_eval.benchmark import VQA, Benchmark, Column, LmmsTask
from csr_eval.score_cli import answer_file_command

NAME = "vizwiz"

_CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't",
    "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's",
    "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm",
    "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've", "itll": "it'll",
    "let's": "let's", "maam": "ma'am", "mightnt": "mightn't", "mightnt've": "mightn't've",
    "mightn'tve": "mightn't've", "mightve": "might've", "mustnt": "mustn't", "mustve": "must've",
    "neednt": "needn't", "notve": "not've", "oclock": "o'clock", "oughtnt": "oughtn't",
    "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", "shant": "shan't",
    "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's", "shouldve": "should've",
    "shouldnt": "shouldn't", "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd", "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
    "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've", "therere": "there're",
    "theres": "there's", "theyd": "they'd", "theyd've": "they'd've", "they'dve": "they'd've",
    "theyll": "they'll", "theyre": "they're", "theyve": "they've", "twas": "'twas", "wasnt": "wasn't",
    "wed've": "we'd've", "we'dve": "we'd've", "weve": "we've", "werent": "weren't", "whatll": "what'll",
    "whatre": "what're", "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd",
    "wheres": "where's", "whereve": "where've", "whod": "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll",
    "whyre": "why're", "whys": "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll",
    "y'allll": "y'all'll", "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll", "youre": "you're",
    "youve": "you've",
}
_NUMBERS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
            "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
_ARTICLES = {"a", "an", "the"}
_PUNCTUATION = [";", r"/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`",
                ",", "?", "!"]
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")


def _process_punctuation(text: str) -> str:
    out = text
    for p in _PUNCTUATION:
        if (p + " " in text or " " + p in text) or (re.search(_COMMA_STRIP, text) is not None):
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD_STRIP.sub("", out, re.UNICODE)


def _process_digits_articles(text: str) -> str:
    words = []
    for word in text.lower().split():
        word = _NUMBERS.setdefault(word, word)
        if word not in _ARTICLES:
            words.append(word)
    return " ".join(_CONTRACTIONS.get(w, w) for w in words)


def normalize_answer(answer: str) -> str:
    """The EvalAI/VQA answer normalisation."""
    text = answer.replace("\n", " ").replace("\t", " ").strip()
    return _process_digits_articles(_process_punctuation(text))


def vqa_accuracy(prediction: str, human_answers: Sequence[str], leave_one_out: bool = True) -> float:
    pred = normalize_answer(prediction)
    gts = [normalize_answer(a) for a in human_answers]
    if not leave_one_out:
        return min(sum(g == pred for g in gts) / 3, 1.0)
    scores = []
    for i in range(len(gts)):
        others = gts[:i] + gts[i + 1:]
        scores.append(min(sum(g == pred for g in others) / 3, 1.0))
    return sum(scores) / len(scores)


def score(records: list[dict], leave_one_out: bool = True) -> dict:
    """records: ``prediction`` and ``answers`` (the human answers)."""
    if not records:
        raise ValueError("no answers to score")
    accs = [vqa_accuracy(str(r["prediction"]), r["answers"], leave_one_out) for r in records]
    return {"accuracy": sum(accs) / len(accs), "n": len(accs)}


# -- what the toolkit knows about VizWiz (the registry's entry) ---------------------------------------
def _record(doc: dict, answer: str) -> dict:
    # lmms-eval's process_results normalises doc["answers"] in place (the VQA normalisation is idempotent);
    # VizWiz's own annotation files give each human answer as {"answer": ...}
    return {"prediction": answer, "answers": [a["answer"] if isinstance(a, dict) else a for a in doc["answers"]]}


SCORE = answer_file_command(
    "VizWiz/VQA accuracy: --annotation json list of {question_id or image, answers} with the human answers "
    "(strings or {answer: ...}); --result-file jsonl with question_id and text.", "--annotation",
    "VizWiz (VQA accuracy)", lambda g: g.get("question_id", g.get("image")), _record,
    lambda records, args: score(records, leave_one_out=not args.no_leave_one_out),
    options=[("--no-leave-one-out", {"action": "store_true",
                                     "help": "plain min(#agree/3, 1) instead of the official 10-subset average"})])


BENCHMARKS = (Benchmark(
    NAME, "VizWiz-VQA", VQA, 1, (Column("VizWiz", "VisWiz", lambda m: 100 * m["accuracy"], paper_column="VizWiz"),),
    lmms=LmmsTask("vizwiz_vqa_val", "VizWiz-VQA", _record, score,
                  lambda r: vqa_accuracy(r["prediction"], r["answers"]) > 0),
    score_command=SCORE),)
