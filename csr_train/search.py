"""Sentence-level beam search (paper §3.2.1, Algorithm 1 lines 4–11), written for speed.

For each prompt the image and prompt are prefilled once; every candidate sentence then continues from
its parent's KV cache (never re-encoded from text, unlike the released code, which re-tokenised the decoded
text and re-encoded the image for every node). Candidates of several prompts and of all frontier nodes are
stepped together in one batch. With ``kv_layout: shared`` (default) the image + prompt KV is stored once per
prompt and each sentence's once per tree node, and token beams hold only their own new tokens
(:mod:`csr_eval.cascade`); with ``copied`` every beam holds a copy of its whole context, left-padded.

Within one sentence step each frontier node runs *diverse beam search* (Vijayakumar et al.): ``token_beams``
beams split into ``beam_groups`` groups; groups pick tokens in order and group g pays
``diversity_penalty`` for every earlier group that chose the same token at this step (the Hamming
penalty that transformers 5 removed). Hypotheses end at a sentence end (".") or an EOS (the tokenizer's and
every one the generation config lists, where ``generate`` stops too), are scored as
Hugging Face beam search scores them (penalised log-probability sum / length), and the best
``token_beams`` across groups become the candidate sentences. Each group step follows transformers 4.x's
group beam search: ``max(2, 1 + number of stop tokens)`` candidates per beam, and a group stops when its worst
kept hypothesis beats the best candidate of the step (tests/csr_train/test_search_group_step.py). Every
candidate keeps the model's *pure* token log-probabilities too: R_T (Eq. 2) is computed from those, not from
the penalised scores. A hypothesis that is EOS alone makes its parent sentence a possible end of the response
(``search.min_end_prob``, beyond the paper: only where the model's own P(EOS) reaches it).

Which candidates go on (Algorithm 1 line 11) depends on the mode:

* ``paper`` — every candidate gets the calibrated reward R(s) (Eq. 4) during the search and the top-k and
  bottom-k frontier nodes by cumulative calibrated reward continue (default k = 2 and 2);
* ``official`` — what the released ``sample.py`` does: CLIP plays no part during the search; nodes are
  ranked by cumulative language score (sum over sentences of the length-normalised, penalised beam
  score) and the top-1 and bottom-2 continue (its ``int(n/2)-1`` and ``int(n/2)``).

In both modes nodes whose sentence ended the response (EOS or a length limit) stay as leaves, and pruning
applies only when at least ``num_beams`` candidates compete (as the released code).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from csr_eval.cascade import CascadeCache, SharedLevel, cascade_forward, storage_bytes
from csr_eval.errors import InputError
from csr_eval.model_family import PromptBatch, base_model, encode_prompts, sequences_forward_inputs
from csr_eval.shared_image_decoding import stop_tokens
from csr_train.config import SearchSettings
from csr_train.kv_cache import ReservedCache
from csr_train.reward import (REPEATED_STATEMENT, calibrated_reward, image_relevance_score, instruction_following_score,
                              presence_verdict, response_reward)

NEG_INF = -1e9


@dataclass
class SentenceNode:
    """One candidate sentence in a prompt's search tree; ``parent`` is -1 for first sentences."""
    node_id: int
    parent: int
    depth: int
    text: str
    token_ids: list[int]
    logprobs: list[float]  # the model's own log-probabilities of the tokens (no diversity penalty)
    lm_score: float  # the beam score: penalised log-probability sum / length (the released code's score)
    stop: str  # period | eos | max_sentence_tokens | max_response_tokens | max_sentences
    ends_response: bool = False
    can_end: bool = False  # a child hypothesis was EOS alone: the response may end after this sentence
    end_prob: float | None = None  # the model's own P(EOS) right after this sentence, where a child was EOS alone
    expanded: bool = False  # survived pruning and was continued
    r_t: float = float("nan")
    r_i: float = float("nan")
    reward: float = float("nan")
    path_score: float = float("nan")  # what pruning ranked by (mode-dependent)
    redundant: bool = False  # repeats an earlier sentence of its response (reward.redundancy_threshold)
    relevance: float | None = None  # what entered Eq. 4 instead of r_i (reward.presence_threshold), else None
    lead: str = ""  # white space the sentence's tokens decode to before ``text`` (see sentence_text)
    tail: str = ""  # and after it (Qwen's ".\n\n": "\n\n")

    @property
    def complete(self) -> bool:
        return self.ends_response or self.can_end


@dataclass
class SearchTree:
    prompt_id: str
    image: str
    prompt: str
    nodes: list[SentenceNode] = field(default_factory=list)

    def path(self, node_id: int) -> list[SentenceNode]:
        out = []
        while node_id >= 0:
            node = self.nodes[node_id]
            out.append(node)
            node_id = node.parent
        return out[::-1]

    def children(self, node_id: int) -> list[SentenceNode]:
        return [n for n in self.nodes if n.parent == node_id]

    def to_dict(self) -> dict:
        return {"prompt_id": self.prompt_id, "image": self.image, "prompt": self.prompt,
                "nodes": [vars(n) for n in self.nodes]}

    @classmethod
    def from_dict(cls, data: dict) -> "SearchTree":
        return cls(data["prompt_id"], data["image"], data["prompt"], [SentenceNode(**n) for n in data["nodes"]])


@dataclass
class PromptItem:
    prompt_id: str
    image_path: str
    prompt: str
    image: object  # PIL image


class SentenceRewarder:
    """Eq. 2–4 for candidate sentences: R_T from log-probs, R_I from CLIP with each image embedded once.

    ``redundancy_threshold`` (beyond the paper; 0 = off): a sentence whose CLIP text embedding has cosine at
    least this with an earlier sentence of the same response adds no new visual evidence and gets R_I = 0.
    Why: R_I does not see *where* an object is, so re-stating a present object (at a wrong place) scores as
    well as a new true statement, and the mean reward then prefers responses padded with repetitions (see
    docs/micro-evidence.md).

    ``oracle`` (beyond the paper, :mod:`csr_train.oracle`): a ground-truth judge takes CLIP's place in R_I.

    ``presence_threshold`` (beyond the paper; 0 = off): R_I enters Eq. 4 as a presence verdict instead of a
    graded score (:func:`csr_train.reward.presence_verdict`). Why: CLIP separates present from absent objects
    well but grades present ones by how typical they look, so among hallucination-free answers the graded
    score prefers "car" over "person" and teaches dropping objects; the verdict scores every confirmed new
    statement alike. ``r_i`` stays Eq. 3 (reported as such).
    """

    def __init__(self, clip, lam: float, redundancy_threshold: float = 0.0, oracle=None,
                 presence_threshold: float = 0.0):
        self.clip, self.lam, self.redundancy_threshold, self.oracle = clip, lam, redundancy_threshold, oracle
        self.presence_threshold = presence_threshold
        self._text_embeddings: dict = {}
        self._texts: dict = {}

    @property
    def needs_history(self) -> bool:
        """Whether a sentence's score depends on the earlier sentences of its response."""
        return self.redundancy_threshold > 0 or self.oracle is not None

    def start_batch(self, images: Sequence, paths: Sequence | None = None) -> list:
        """A new batch of prompts: forget the previous batch's sentences (``score``'s keys restart), and return
        what R_I needs of each image: its CLIP embedding, or (oracle) its ground truth by file name."""
        self._text_embeddings.clear()
        self._texts.clear()
        if self.oracle is not None:
            return [self.oracle.truth(p) for p in paths]
        return list(self.clip.embed_images(images)) if self.clip is not None else [None] * len(images)

    def score(self, nodes: Sequence[SentenceNode], image_embeddings: Sequence, keys: Sequence | None = None,
              earlier: Sequence[Sequence] | None = None) -> None:
        """Fill r_t, r_i and reward of each node; sentences of all prompts go through CLIP in one batch.

        ``keys`` name the nodes and ``earlier`` the keys of each node's earlier sentences (for the redundancy
        rule and the oracle).
        """
        if not nodes:
            return
        keys = keys or [None] * len(nodes)
        earlier = earlier or [()] * len(nodes)
        if self.oracle is not None:
            for node, truth, key, before in zip(nodes, image_embeddings, keys, earlier):
                node.r_i = self.oracle.sentence_score(truth, node.text, [self._texts[k] for k in before])
                if key is not None:
                    self._texts[key] = node.text
        elif self.clip is not None:
            cosines = self.clip.embed_sentences([n.text or "." for n in nodes])
            for node, text_emb, image_emb, key, before in zip(nodes, cosines, image_embeddings, keys, earlier):
                node.r_i = image_relevance_score(float(text_emb @ image_emb))  # Eq. 3
                if self.presence_threshold > 0:
                    node.relevance = presence_verdict(node.r_i, self.presence_threshold)
                if self.redundancy_threshold > 0 and before:
                    previous = torch.stack([self._text_embeddings[k] for k in before])
                    if float((previous @ text_emb).max()) >= self.redundancy_threshold:
                        node.r_i, node.redundant = 0.0, True
                        if self.presence_threshold > 0 and node.relevance > 0:
                            node.relevance = REPEATED_STATEMENT
                if key is not None:
                    self._text_embeddings[key] = text_emb
        for node in nodes:
            node.r_t = instruction_following_score(node.logprobs)  # Eq. 2
            relevance = node.r_i if node.relevance is None else node.relevance
            node.reward = calibrated_reward(0.0 if math.isnan(relevance) else relevance, node.r_t, self.lam)  # Eq. 4


@dataclass
class _Frontier:
    """A node to continue: its KV (prompt + sentences so far, minus the last token) and that token.

    ``context`` is what the step class needs of the KV: ``copied``, the whole of it (per layer ``(k, v)``);
    ``shared``, one entry per sentence so far (the prompt's KV is the batch's, :class:`_Prefix`); recomputing,
    None."""
    prompt_index: int
    node_id: int  # -1 for the root
    context: list | tuple | None
    pending: int
    position: int
    history: list[int]  # full token ids (what the recomputing reference path re-encodes)
    response_tokens: int
    depth: int


def answer_end_ids(model, tokenizer) -> set[int]:
    """The tokenizer's EOS and every EOS of the model's generation config: Qwen2.5-VL-Instruct's lists
    ``<|im_end|>`` and ``<|endoftext|>``, and ``generate`` (the evaluation) stops at either."""
    return stop_tokens(model) | {int(tokenizer.eos_token_id)}


LINE_BREAKS = "\r\n"


def sentence_end_ids(tokenizer, sentence_end: Sequence[str]) -> set[int]:
    """The tokens that close a sentence: each of ``sentence_end`` (one token each), and every token that is one of
    them followed by line breaks. Qwen's byte-level BPE writes a paragraph's last "." as one token ".\n\n" (its
    pre-tokenizer keeps punctuation and the line breaks after it together); without it that sentence would run on
    into the next paragraph's first. LLaVA's Llama tokenizer has no such token (line breaks are byte tokens)."""
    ids = set()
    for token in sentence_end:
        tid = tokenizer.convert_tokens_to_ids(token)
        if tid is None or tid == tokenizer.unk_token_id:
            raise InputError(None, f"field 'search.sentence_end': {token!r} is not one token of this model's "
                                   f"tokenizer; each entry must be (e.g. '.')")
        ids.add(int(tid))
    for piece, tid in tokenizer.get_vocab().items():
        text = tokenizer.convert_tokens_to_string([piece])
        if text.rstrip(LINE_BREAKS) != text and text.rstrip(LINE_BREAKS) in sentence_end:
            ids.add(int(tid))
    return ids


def check_sentence_ends(model: str, sentence_end: Sequence[str], trust_remote_code: bool = False) -> None:
    """``search.sentence_end`` checked against the model's tokenizer (an InputError naming the field)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
    except OSError as exc:
        raise InputError(model, f"cannot load its tokenizer (field 'model.base'): {exc}") from None
    sentence_end_ids(tokenizer, sentence_end)


def sentence_text(decoded: str) -> tuple[str, str, str]:
    """(text, lead, tail) of a sentence's decoded tokens: the text without the white space around it, and that
    white space, so that the answer can be written again as the model wrote it (:func:`answer_text`)."""
    text = decoded.strip()
    return text, decoded[:len(decoded) - len(decoded.lstrip())], decoded[len(decoded.rstrip()):]


def answer_text(sentences: Sequence["SentenceNode"]) -> str:
    """Sentences one after another as the model wrote them: the white space between two where it holds a line
    break (a paragraph break, in the earlier sentence's last token or the later one's first), else one space (a
    Llama token's word mark does not decode on its own)."""
    out = sentences[0].text if sentences else ""
    for before, sentence in zip(sentences, sentences[1:]):
        out += (line_breaks(before.tail + sentence.lead) or " ") + sentence.text
    return out


def line_breaks(space: str) -> str:
    """``space`` where it holds a line break, else "" (where a plain space goes, the caller knows)."""
    return space if any(c in space for c in LINE_BREAKS) else ""


@dataclass
class Hypothesis:
    """A finished sentence of one beam group, and what its node needs to be continued."""
    score: float  # Hugging Face's beam score: penalised log-probability sum / length
    tokens: list[int]
    logprobs: list[float]  # pure (no diversity penalty): R_T is computed from these
    stop: str  # period | eos | max_sentence_tokens
    context: list | tuple | None  # what the child node continues from (see _Frontier.context)
    pending: int  # the last token, not yet in the KV cache
    position: int


class FinishedHypotheses:
    """The best ``capacity`` finished sentences of one group (Hugging Face's ``BeamHypotheses``)."""

    def __init__(self, capacity: int):
        self.capacity, self.best = capacity, []

    def add(self, score: float, make: Callable[[], Hypothesis]) -> None:
        """Keep the hypothesis if it is among the best; ``make`` runs (and copies a KV row) only then."""
        if len(self.best) >= self.capacity and score <= self.best[-1].score:
            return
        self.best.append(make())
        self.best.sort(key=lambda h: -h.score)
        del self.best[self.capacity:]

    def is_done(self, best_running: float, length: int) -> bool:
        """HF's heuristic early stop: enough hypotheses, and no running beam can beat the worst."""
        return len(self.best) >= self.capacity and self.best[-1].score >= best_running / length


@dataclass
class _Beams:
    """The running token beams of every frontier node, shaped ``[state, group, beam]``."""
    scores: torch.Tensor  # penalised log-probability sums; NEG_INF for a dead beam
    pending: torch.Tensor  # the last chosen token of each beam (fed to the model next)
    position: torch.Tensor
    tokens: list[list[list[list[int]]]]  # [state][group][beam] -> the sentence's tokens so far
    logprobs: list[list[list[list[float]]]]

    @classmethod
    def start(cls, frontier: list[_Frontier], groups: int, beams: int, device) -> "_Beams":
        """In each group only the first beam starts live (as HF group beam search)."""
        shape = (len(frontier), groups, beams)
        scores = torch.full(shape, NEG_INF, device=device)
        scores[:, :, 0] = 0.0
        pending = torch.tensor([f.pending for f in frontier], device=device)[:, None, None].expand(shape).clone()
        position = torch.tensor([f.position for f in frontier], device=device)[:, None, None].expand(shape).clone()
        def empty():
            return [[[] for _ in range(beams)] for _ in range(groups)]
        return cls(scores, pending, position, [empty() for _ in frontier], [empty() for _ in frontier])

    def row(self, state: int, group: int, beam: int) -> int:
        """A beam's row in the model's flat ``[state * group * beam]`` batch."""
        _, G, B = self.scores.shape
        return (state * G + group) * B + beam


@dataclass
class _Choice:
    """This step's pick per beam slot: the token (-1: none, the slot idles), its source beam in the same
    group, and the new score."""
    token: torch.Tensor
    source: torch.Tensor
    score: torch.Tensor

    @classmethod
    def idle(cls, beams: _Beams) -> "_Choice":
        S, G, B = beams.scores.shape
        source = torch.arange(B, device=beams.scores.device).expand(S, G, B).clone()
        return cls(torch.full((S, G, B), -1, dtype=torch.long, device=beams.scores.device), source,
                   beams.scores.clone())

    def rows(self) -> torch.Tensor:
        """The source of every beam as a row of the flat ``[state * group * beam]`` batch."""
        S, G, B = self.source.shape
        return (torch.arange(S * G, device=self.source.device).view(S, G, 1) * B + self.source).flatten()


@dataclass
class _Prefix:
    """The prefilled prompts of a batch; ``kv``/``valid``: their KV, left-padded (``shared`` keeps it)."""
    prompts: PromptBatch
    kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    valid: torch.Tensor | None = None


class CachedSteps:
    """``kv_layout: copied``. Next-token log-probabilities from the frontier's KV caches: one token per beam
    per step, the caches left-padded to one length, repeated per token beam, with room reserved for the
    sentence (kv_cache.py)."""

    def __init__(self, model, frontier: list[_Frontier], beams_per_state: int, room: int):
        self.model, self.R = model, beams_per_state
        device = next(model.parameters()).device
        self.cache = ReservedCache.from_rows([f.context for f in frontier], beams_per_state, room)
        longest = self.cache.layers[0].length
        self.pads = [longest - f.context[0][0].shape[2] for f in frontier]
        mask = torch.tensor([[0] * pad + [1] * (longest - pad) for pad in self.pads], device=device)
        self.mask = mask.repeat_interleave(beams_per_state, 0)

    def next_logprobs(self, beams: _Beams, live: torch.Tensor) -> torch.Tensor:
        self.mask = torch.cat([self.mask, torch.ones(len(self.mask), 1, dtype=self.mask.dtype,
                                                     device=self.mask.device)], dim=1)
        with torch.inference_mode():
            out = self.model(input_ids=beams.pending.reshape(-1, 1), attention_mask=self.mask,
                             position_ids=beams.position.reshape(-1, 1), cache=self.cache, use_cache=True)
        return torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # the cache was written in place

    def reorder(self, rows: torch.Tensor) -> None:
        if rows.tolist() != list(range(len(rows))):
            self.cache.select_rows(rows)

    def row_kv(self, state: int, row: int):
        """One beam's cache without its left padding (a copy: the batch tensor is reused next step)."""
        pad = self.pads[state]
        return [(k[row:row + 1, :, pad:].clone(), v[row:row + 1, :, pad:].clone()) for k, v in self.cache.tensors()]

    def tensors(self) -> list[torch.Tensor]:
        return [layer._k for layer in self.cache.layers] + [layer._v for layer in self.cache.layers]


class SharedPrefixSteps:
    """``kv_layout: shared``. The beams of a prompt attend to its image + prompt KV stored once, the beams of
    a frontier node to its sentences' KV gathered once per node, and each beam to its own new tokens
    (:mod:`csr_eval.cascade`); a finished sentence keeps only its own tokens' KV. Only the beams of groups
    still searching go through the model (a step lasts as long as the longest sentence of the batch: about
    half the beam-steps belong to groups already done)."""

    def __init__(self, model, frontier: list[_Frontier], beams_per_state: int, room: int, prefix: _Prefix):
        self.model, self.R, self.frontier = model, beams_per_state, frontier
        self.language_model = base_model(model).get_decoder()
        rows = len(frontier) * beams_per_state
        self.groups_of_row = [[f.prompt_index for f in frontier for _ in range(beams_per_state)],
                              [state for state in range(len(frontier)) for _ in range(beams_per_state)]]
        levels = [SharedLevel.by_group(prefix.kv, prefix.valid, self.groups_of_row[0])]
        if any(f.context for f in frontier):
            levels.append(self._sentences_level(frontier, self.groups_of_row[1]))
        self.cache = CascadeCache.start(levels, rows, room)
        self.active = torch.arange(rows)  # the rows in the cache, in its order
        self.slot = torch.arange(rows)  # each row's place in the cache (-1: left out, its group is done)

    @staticmethod
    def _sentences_level(frontier: list[_Frontier], state_of_row: list[int]) -> SharedLevel:
        """Each frontier node's sentences so far, concatenated once per node (right-padded)."""
        lengths = [sum(sentence[0][0].shape[2] for sentence in f.context) for f in frontier]
        some = next(f.context[0] for f in frontier if f.context)  # (all nodes of a step have the same depth)
        layers = []
        for layer in range(len(some)):
            pair = []
            for which in (0, 1):
                like = some[layer][which]
                buffer = like.new_zeros(len(frontier), like.shape[1], max(lengths), like.shape[3])
                for i, f in enumerate(frontier):
                    if f.context:
                        buffer[i, :, :lengths[i]] = torch.cat([sentence[layer][which][0] for sentence in f.context], 1)
                pair.append(buffer)
            layers.append(tuple(pair))
        valid = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
        return SharedLevel.by_group(layers, valid.to(layers[0][0].device), state_of_row)

    def next_logprobs(self, beams: _Beams, live: torch.Tensor) -> torch.Tensor:
        """Log-probabilities for every beam; rows of groups no longer ``live`` ([state, group]) get zeros."""
        keep = live.repeat_interleave(self.R // live.shape[1], dim=1).flatten().nonzero().flatten()
        if len(keep) < len(self.active):
            self._keep_only(keep)
        out = cascade_forward(self.model, self.language_model, self.cache,
                              input_ids=beams.pending.reshape(-1, 1)[self.active],
                              position_ids=beams.position.reshape(-1, 1)[self.active])
        logp = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
        if len(self.active) == len(self.slot):
            return logp
        return logp.new_zeros(len(self.slot), logp.shape[-1]).index_copy_(0, self.active.to(logp.device), logp)

    def _keep_only(self, keep: torch.Tensor) -> None:
        self.cache.select_rows(self.slot[keep].to(self.cache.layers[0].keys.device))
        self.cache.levels = [level.regroup([groups[r] for r in keep.tolist()])
                             for level, groups in zip(self.cache.levels, self.groups_of_row)]
        self.active = keep
        self.slot = torch.full_like(self.slot, -1)
        self.slot[keep] = torch.arange(len(keep))

    def reorder(self, rows: torch.Tensor) -> None:
        """Beams take their sources' rows; a source is in the same group, so in the cache too."""
        sources = rows.cpu()[self.active]
        if not torch.equal(sources, self.active):
            self.cache.select_rows(self.slot[sources].to(self.cache.layers[0].keys.device))

    def row_kv(self, state: int, row: int):
        """The node's sentences so far and this beam's new tokens (a copy of only those)."""
        return (*self.frontier[state].context, self.cache.row_suffix(int(self.slot[row])))

    def tensors(self) -> list[torch.Tensor]:
        return [t for level in self.cache.levels[1:] for kv in level.kv for t in kv] + \
            [t for layer in self.cache.layers for t in (layer._k, layer._v)]


class RecomputedSteps:
    """The reference: every step re-encodes image, prompt and all tokens so far, without a cache. Slow; the
    tests check that the cached search gives the same trees."""

    def __init__(self, model, frontier: list[_Frontier], beams_per_state: int, prompts: PromptBatch, pad_id: int):
        self.model, self.frontier, self.R, self.pad_id = model, frontier, beams_per_state, pad_id
        self.family = prompts.family
        self.vision = prompts.family.vision_rows(prompts.vision, [f.prompt_index for f in frontier
                                                                  for _ in range(beams_per_state)])

    def next_logprobs(self, beams: _Beams, live: torch.Tensor) -> torch.Tensor:
        sequences = [f.history + toks for f, state in zip(self.frontier, beams.tokens) for group in state
                     for toks in group]
        with torch.inference_mode():
            out = self.model(**sequences_forward_inputs(self.model, self.family, sequences, self.vision, self.pad_id),
                             use_cache=False)
        return torch.log_softmax(out.logits[:, -1].float(), dim=-1)

    def reorder(self, rows: torch.Tensor) -> None:
        pass

    def row_kv(self, state: int, row: int):
        return None

    def tensors(self) -> list[torch.Tensor]:
        return []


class SentenceBeamSearch:
    def __init__(self, model, processor, settings: SearchSettings, rewarder: SentenceRewarder,
                 prompt_text: Callable[[str], str], aggregate: str = "mean", use_cache: bool = True):
        self.model, self.processor, self.s = model, processor, settings
        self.rewarder, self.prompt_text, self.aggregate = rewarder, prompt_text, aggregate
        self.use_cache = use_cache
        tok = processor.tokenizer
        self.eos = int(tok.eos_token_id)  # the end the DPO data writes after a complete answer
        self.ends = answer_end_ids(model, tok)  # every token that ends an answer, as generate() stops
        self.stops = sentence_end_ids(tok, settings.sentence_end) | self.ends
        # HF keeps max(2, 1 + number of stop tokens) candidates per beam, so a group whose best tokens are all
        # stops still has live continuations (which also enter later groups' diversity penalty)
        self.candidates_per_beam = max(2, 1 + len(self.stops))
        self.keep_top, self.keep_bottom = settings.keep()
        self.device = next(model.parameters()).device
        self.kv_peak_bytes: int | None = None  # set track_kv_bytes() to count: the most KV bytes held at once

    # ----------------------------------------------------------------------------------------------
    def search(self, items: Sequence[PromptItem]) -> list[SearchTree]:
        """Algorithm 1 lines 4–11 for a batch of prompts; returns one tree per prompt."""
        trees = [SearchTree(it.prompt_id, it.image_path, it.prompt) for it in items]
        image_embeddings = self.rewarder.start_batch([it.image for it in items], [it.image_path for it in items])
        frontier, prefix = self._prefill(items)
        while frontier:
            candidates = self._sentence_step(frontier, trees, prefix)
            new_nodes = [node for node, _ in candidates]
            keys = earlier = None
            if self.rewarder.needs_history:  # the redundancy rule and the oracle see each node's earlier sentences
                keys = [(f.prompt_index, node.node_id) for node, f in candidates]
                earlier = [[(i, n.node_id) for n in trees[i].path(node.node_id)[:-1]] for node, (i, _) in
                           zip(new_nodes, keys)]
            self.rewarder.score(new_nodes, [image_embeddings[f.prompt_index] for _, f in candidates], keys, earlier)
            frontier = self._prune(candidates, trees)
        return trees

    def _prefill(self, items) -> tuple[list[_Frontier], _Prefix]:
        """Encode image and prompt once; every row's last prompt token is the first token the search steps."""
        prompts = encode_prompts(self.model, self.processor, [it.image for it in items],
                                 [self.prompt_text(it.prompt) for it in items])
        prefix = _Prefix(prompts)
        if self.use_cache:
            with torch.inference_mode():
                out = self.model(**prompts.forward_inputs(drop_last=1), use_cache=True, logits_to_keep=1)
            prefix.kv = [(layer.keys, layer.values) for layer in out.cache.layers]
            prefix.valid = prompts.attention_mask[:, :-1].bool()
        ids, mask, last = prompts.input_ids, prompts.attention_mask, prompts.last_positions()
        frontier = []
        for i in range(len(items)):
            pad = int((mask[i] == 0).sum())
            context = None
            if self.use_cache:
                context = () if self.shared else [(k[i:i + 1, :, pad:].clone(), v[i:i + 1, :, pad:].clone())
                                                  for k, v in prefix.kv]
            frontier.append(_Frontier(i, -1, context, int(ids[i, -1]), last[i], ids[i, pad:].tolist(), 0, 0))
        if self.use_cache and not self.shared:
            prefix.kv = None  # each row holds its own copy
        return frontier, prefix

    @property
    def shared(self) -> bool:
        return self.s.kv_layout == "shared"

    def _steps(self, frontier: list[_Frontier], prefix: _Prefix):
        s = self.s
        if not self.use_cache:
            return RecomputedSteps(self.model, frontier, s.token_beams, prefix.prompts,
                                   self.processor.tokenizer.pad_token_id or 0)
        if self.shared:
            return SharedPrefixSteps(self.model, frontier, s.token_beams, s.max_sentence_tokens + 1, prefix)
        return CachedSteps(self.model, frontier, s.token_beams, s.max_sentence_tokens + 1)

    def track_kv_bytes(self) -> "SentenceBeamSearch":
        """Count ``kv_peak_bytes`` from now on (the peak over a sentence step's end; costs a little time)."""
        self.kv_peak_bytes = 0
        return self

    def _held_kv_bytes(self, prefix: _Prefix, frontier: list[_Frontier], steps, finished) -> int:
        """KV bytes alive at a sentence step's end: the prompts', the frontier's, the step's batch and the
        finished hypotheses' (each storage once)."""
        def flat(context):
            return [] if context is None else [t for part in context for t in
                                               (part if isinstance(part, tuple) else flat(part))]
        tensors = [t for kv in (prefix.kv or []) for t in kv] + steps.tensors()
        tensors += [t for f in frontier for t in flat(f.context)]
        tensors += [t for state in finished for group in state for h in group.best for t in flat(h.context)]
        return storage_bytes(tensors)

    # ----------------------------------------------------------------------------------------------
    def _sentence_step(self, frontier: list[_Frontier], trees: list[SearchTree], prefix: _Prefix):
        """Diverse beam search for one sentence from every frontier node at once."""
        s = self.s
        groups, per_group = s.beam_groups, s.token_beams // s.beam_groups
        steps = self._steps(frontier, prefix)
        beams = _Beams.start(frontier, groups, per_group, self.device)
        finished = [[FinishedHypotheses(per_group) for _ in range(groups)] for _ in frontier]
        done = [[False] * groups for _ in frontier]
        for _ in range(s.max_sentence_tokens):
            logp = steps.next_logprobs(beams, ~torch.tensor(done))
            choice = _Choice.idle(beams)
            counts = torch.zeros(len(frontier), logp.shape[-1], device=self.device)  # tokens earlier groups chose
            for g in range(groups):
                self._step_group(g, logp.view(*beams.scores.shape, -1)[:, g], beams, choice, counts, finished, done,
                                 steps)
            self._advance(beams, choice, logp, steps)
            if all(all(d) for d in done):
                break
        else:
            self._finish_at_length_limit(beams, finished, done, steps)
        if self.kv_peak_bytes is not None:
            self.kv_peak_bytes = max(self.kv_peak_bytes, self._held_kv_bytes(prefix, frontier, steps, finished))
        return self._make_nodes(frontier, finished, trees)

    def _step_group(self, g: int, logp: torch.Tensor, beams: _Beams, choice: _Choice, counts: torch.Tensor,
                    finished, done, steps) -> None:
        """One token for group ``g`` of every state: the Hamming-penalised top candidates either finish a
        sentence (a stop token) or fill the group's beam slots; slots left unfilled die."""
        B, V = logp.shape[1], logp.shape[2]
        candidates = (beams.scores[:, g, :, None] + (logp - self.s.diversity_penalty * counts[:, None, :]))
        top_scores, top_index = candidates.reshape(len(candidates), -1).topk(self.candidates_per_beam * B, dim=-1)
        sources, tokens, new_scores = (t[:, g].tolist() for t in (choice.source, choice.token, choice.score))
        chosen_states, chosen_tokens = [], []  # for the diversity penalty of the later groups
        for si, (scores, indices) in enumerate(zip(top_scores.tolist(), top_index.tolist())):
            if done[si][g]:
                continue
            filled = 0
            for rank, (score, flat) in enumerate(zip(scores, indices)):
                beam, token = divmod(flat, V)
                if token in self.stops:
                    if rank < B and score > NEG_INF / 2:
                        self._finish(finished[si][g], beams, logp, steps, si, g, beam, token, score)
                else:
                    sources[si][filled], tokens[si][filled], new_scores[si][filled] = beam, token, score
                    chosen_states.append(si)
                    chosen_tokens.append(token)
                    filled += 1
                if filled == B:
                    break
            new_scores[si][filled:] = [NEG_INF] * (B - filled)  # fewer than B live continuations: slots stay dead
            # HF compares with the best candidate of the step, a stop token included (not the best running beam)
            if finished[si][g].is_done(scores[0], len(beams.tokens[si][g][0]) + 1):
                done[si][g] = True
        for tensor, values in ((choice.source, sources), (choice.token, tokens), (choice.score, new_scores)):
            tensor[:, g] = torch.tensor(values, dtype=tensor.dtype, device=tensor.device)
        if chosen_states:
            where = (torch.tensor(chosen_states, device=self.device), torch.tensor(chosen_tokens, device=self.device))
            counts.index_put_(where, torch.ones(len(chosen_states), device=self.device), accumulate=True)

    def _finish(self, hyps: FinishedHypotheses, beams: _Beams, logp, steps, si, g, beam, token, score) -> None:
        """A stop token ends beam ``beam``'s sentence: a hypothesis scored by length (stop token included)."""
        toks, lps = beams.tokens[si][g][beam], beams.logprobs[si][g][beam]
        hyps.add(score / (len(toks) + 1), lambda: Hypothesis(
            score / (len(toks) + 1), toks + [token], lps + [float(logp[si, beam, token])],
            "eos" if token in self.ends else "period", steps.row_kv(si, beams.row(si, g, beam)), token,
            int(beams.position[si, g, beam]) + 1))

    def _advance(self, beams: _Beams, choice: _Choice, logp: torch.Tensor, steps) -> None:
        """Move every beam to its source and append the chosen token; idle slots keep their own state."""
        S, G, B = beams.scores.shape
        logp = logp.view(S, G, B, -1)
        chosen, sources = choice.token.tolist(), choice.source.tolist()
        picks = [(si, g, b) for si in range(S) for g in range(G) for b in range(B) if chosen[si][g][b] >= 0]
        index = torch.tensor([(si, g, sources[si][g][b], chosen[si][g][b]) for si, g, b in picks], dtype=torch.long,
                             device=logp.device).reshape(-1, 4)
        picked = dict(zip(picks, logp[index[:, 0], index[:, 1], index[:, 2], index[:, 3]].tolist()))
        for si in range(S):
            for g in range(G):
                if max(chosen[si][g]) < 0:  # a finished group: nothing moves
                    continue
                old_t, old_l = beams.tokens[si][g], beams.logprobs[si][g]
                new_t, new_l = [], []
                for b in range(B):
                    tok, src = chosen[si][g][b], sources[si][g][b]
                    if tok < 0:  # a dead slot: keep the row idle
                        new_t.append(old_t[b])
                        new_l.append(old_l[b])
                    else:
                        new_t.append(old_t[src] + [tok])
                        new_l.append(old_l[src] + [picked[si, g, b]])
                beams.tokens[si][g], beams.logprobs[si][g] = new_t, new_l
        steps.reorder(choice.rows())
        beams.scores = choice.score
        beams.pending = torch.where(choice.token < 0, beams.pending, choice.token)
        beams.position = beams.position + 1

    def _finish_at_length_limit(self, beams: _Beams, finished, done, steps) -> None:
        """Sentence-length limit: running beams of unfinished groups become (truncated) hypotheses."""
        S, G, B = beams.scores.shape
        for si in range(S):
            for g in range(G):
                if done[si][g]:
                    continue
                for b in range(B):
                    score, toks = float(beams.scores[si, g, b]), beams.tokens[si][g][b]
                    if score <= NEG_INF / 2 or not toks:
                        continue
                    finished[si][g].add(score / len(toks), lambda si=si, g=g, b=b, score=score, toks=toks: Hypothesis(
                        score / len(toks), toks, beams.logprobs[si][g][b], "max_sentence_tokens",
                        steps.row_kv(si, beams.row(si, g, b)), int(beams.pending[si, g, b]),
                        int(beams.position[si, g, b])))

    def _make_nodes(self, frontier, finished, trees):
        s, tok = self.s, self.processor.tokenizer
        out = []
        for si, f in enumerate(frontier):
            tree = trees[f.prompt_index]
            found = sorted((h for group in finished[si] for h in group.best), key=lambda h: -h.score)[: s.token_beams]
            end_probs: dict[int, float] = {}  # end token -> P(it) after this node (two groups may find the same)
            for h in found:
                text_ids = [t for t in h.tokens if t not in self.ends]
                if not text_ids:  # EOS alone: the response may end after the parent sentence (search.min_end_prob)
                    if f.node_id >= 0:
                        end_probs[h.tokens[-1]] = math.exp(h.logprobs[-1])
                        parent = tree.nodes[f.node_id]  # P(end): summed over the end tokens found
                        parent.end_prob = sum(end_probs.values())
                        parent.can_end = parent.end_prob >= s.min_end_prob
                    continue
                response_tokens = f.response_tokens + len(h.tokens)
                depth = f.depth + 1
                stop = h.stop
                if stop == "eos":
                    ends = True
                elif response_tokens >= s.max_response_tokens:
                    ends, stop = True, "max_response_tokens"
                elif depth >= s.max_sentences:
                    ends, stop = True, "max_sentences"
                else:
                    ends = False
                text, lead, tail = sentence_text(tok.decode(text_ids, skip_special_tokens=True))
                node = SentenceNode(len(tree.nodes), f.node_id, depth, text, h.tokens, h.logprobs, h.score, stop,
                                    ends_response=ends, lead=lead, tail=tail)
                tree.nodes.append(node)
                child = _Frontier(f.prompt_index, node.node_id, h.context, h.pending, h.position,
                                  f.history + h.tokens, response_tokens, depth)
                out.append((node, child))
        return out

    # ----------------------------------------------------------------------------------------------
    def _prune(self, candidates, trees) -> list[_Frontier]:
        """Algorithm 1 line 11: which candidates continue, per prompt."""
        by_prompt: dict[int, list] = {}
        for node, child in candidates:
            tree = trees[child.prompt_index]
            parent_score = tree.nodes[node.parent].path_score if node.parent >= 0 else 0.0
            if self.s.mode == "official":
                node.path_score = parent_score + node.lm_score
            else:
                node.path_score = response_reward([n.reward for n in tree.path(node.node_id)], self.aggregate)
            if not node.ends_response:
                by_prompt.setdefault(child.prompt_index, []).append((node, child))
        frontier = []
        for prompt_index in sorted(by_prompt):
            group = sorted(by_prompt[prompt_index], key=lambda nc: -nc[0].path_score)  # stable: ties keep order
            if len(group) >= self.s.num_beams:
                keep = group[: self.keep_top] + group[len(group) - self.keep_bottom:]
            else:
                keep = group
            for node, child in keep:
                node.expanded = True
                frontier.append(child)
        return frontier
