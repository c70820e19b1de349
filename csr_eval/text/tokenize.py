"""Word tokenization equal to ``nltk.word_tokenize`` on captions, without downloading punkt data.

Why: CHAIR's reference tokenizes with ``nltk.word_tokenize``, which first splits sentences with the
pre-trained English punkt model (a data download) and then runs NLTK's Treebank-style word tokenizer on
each sentence. Only the sentence split needs the data, and it only matters for one thing: a period that
ends a sentence in the middle of a caption becomes its own token ("dog." -> "dog", "."), while the
Treebank tokenizer alone would split only the last period of the string.

We keep NLTK's own word tokenizer and replace the trained sentence splitter by NLTK's punkt algorithm
with a fixed parameter set: the abbreviations of the English model that occur in image descriptions.
On lower-cased captions the English model's orthographic statistics make no further difference for
these texts; the CHAIR parity tests check token counts caption by caption on 1,500 real captions.
"""

from __future__ import annotations

from functools import lru_cache

from nltk.tokenize.destructive import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

# Abbreviations (without their final period) that the English punkt model knows and that appear in
# image descriptions; after them a period does not end a sentence.
ENGLISH_ABBREVIATIONS = frozenset(
    "a.m p.m e.g i.e etc vs mr mrs ms dr st jr sr co inc ltd no u.s u.k ft mt ave".split()
)


@lru_cache(maxsize=1)
def _sentence_splitter() -> PunktSentenceTokenizer:
    params = PunktParameters()
    params.abbrev_types = set(ENGLISH_ABBREVIATIONS)
    return PunktSentenceTokenizer(params)


@lru_cache(maxsize=1)
def _word_tokenizer() -> NLTKWordTokenizer:
    return NLTKWordTokenizer()


def word_tokenize(text: str) -> list[str]:
    """Split ``text`` into words and punctuation the way ``nltk.word_tokenize`` does."""
    words = _word_tokenizer()
    return [token for sentence in _sentence_splitter().tokenize(text) for token in words.tokenize(sentence)]
