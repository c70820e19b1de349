"""Sentence-level beam search (paper §3.2.1, Algorithm 1 lines 4–11), written for speed.

For each prompt the image and prompt are prefilled once; every candidate sentence then continues from
its parent's KV cache (branched by copying the cache rows, never re-encoded from text, unlike the released
code, which re-tokenised the decoded text and re-encoded the image for every node). Candidates of several
prompts and of all frontier nodes are stepped together in one batch, left-padded with an attention mask.

Within one sentence step each frontier node runs *diverse beam search* (Vijayakumar et al.): ``token_beams``
beams split into ``beam_groups`` groups; groups pick tokens in order and group g pays
``diversity_penalty`` for every earlier group that chose the same token at this step (the Hamming
penalty that transformers 5 removed). Hypotheses end at a sentence end (".") or EOS, are scored as
Hugging Face beam search scores them (penalised log-probability sum / length), and the best
``token_beams`` across groups become the candidate sentences. Every candidate keeps the model's *pure*
token log-probabilities too: R_T (Eq. 2) is computed from those, not from the penalised scores.

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
    expanded: bool = False  # survived pruning and was continued
    r_t: float = float("nan")
    r_i: float = float("nan")
    reward: float = float("nan")
    path_score: float = float("nan")  # what pruning ranked by (mode-dependent)
    redundant: bool = False  # repeats an earlier sentence of its response (reward.redundancy_threshold)
    relevance: float | None = None  # what entered Eq. 4 instead of r_i (reward.presence_threshold), else None

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

    def embed_images(self, images: Sequence, paths: Sequence | None = None) -> list:
        """What R_I needs of each image: its CLIP embedding, or (oracle) its ground truth by file name."""
        self._text_embeddings.clear()  # a new batch of prompts
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
    """A node to continue: its KV cache (prompt + sentences so far, minus the last token) and that token."""
    prompt_index: int
    node_id: int  # -1 for the root
    kv: list[tuple[torch.Tensor, torch.Tensor]] | None
    pending: int
    position: int
    history: list[int]  # full token ids (for the no-cache reference path)
    response_tokens: int
    depth: int


def sentence_end_ids(tokenizer, sentence_end: Sequence[str]) -> set[int]:
    ids = set()
    for token in sentence_end:
        tid = tokenizer.convert_tokens_to_ids(token)
        if tid is None or tid == tokenizer.unk_token_id:
            raise ValueError(f"sentence end {token!r} is not a single token of this tokenizer")
        ids.add(int(tid))
    return ids


class SentenceBeamSearch:
    def __init__(self, model, processor, settings: SearchSettings, rewarder: SentenceRewarder,
                 prompt_text: Callable[[str], str], aggregate: str = "mean", use_cache: bool = True):
        self.model, self.processor, self.s = model, processor, settings
        self.rewarder, self.prompt_text, self.aggregate = rewarder, prompt_text, aggregate
        self.use_cache = use_cache
        tok = processor.tokenizer
        self.eos = int(tok.eos_token_id)
        self.stops = sentence_end_ids(tok, settings.sentence_end) | {self.eos}
        self.keep_top, self.keep_bottom = settings.keep()
        self.device = next(model.parameters()).device

    # ----------------------------------------------------------------------------------------------
    def search(self, items: Sequence[PromptItem]) -> list[SearchTree]:
        """Algorithm 1 lines 4–11 for a batch of prompts; returns one tree per prompt."""
        trees = [SearchTree(it.prompt_id, it.image_path, it.prompt) for it in items]
        image_embeddings = self.rewarder.embed_images([it.image for it in items], [it.image_path for it in items])
        frontier, self._pixels = self._prefill(items)
        while frontier:
            candidates = self._sentence_step(frontier, trees)
            new_nodes = [node for node, _ in candidates]
            keys = earlier = None
            if self.rewarder.needs_history:  # the redundancy rule and the oracle see each node's earlier sentences
                keys = [(f.prompt_index, node.node_id) for node, f in candidates]
                earlier = [[(i, n.node_id) for n in trees[i].path(node.node_id)[:-1]] for node, (i, _) in
                           zip(new_nodes, keys)]
            self.rewarder.score(new_nodes, [image_embeddings[f.prompt_index] for _, f in candidates], keys, earlier)
            frontier = self._prune(candidates, trees)
        return trees

    def _prefill(self, items):
        texts = [self.prompt_text(it.prompt) for it in items]
        tok = self.processor.tokenizer
        tok.padding_side = "left"
        inputs = self.processor(images=[it.image for it in items], text=texts, return_tensors="pt", padding=True)
        inputs = inputs.to(self.device)
        pixels = inputs["pixel_values"].to(self.model.dtype)
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        kv = None
        if self.use_cache:
            with torch.inference_mode():
                out = self.model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=positions[:, :-1],
                                 pixel_values=pixels, use_cache=True)
            kv = [(layer.keys, layer.values) for layer in out.cache.layers]
        frontier = []
        for i in range(len(items)):
            pad = int((mask[i] == 0).sum())
            row_kv = [(k[i:i + 1, :, pad:].clone(), v[i:i + 1, :, pad:].clone()) for k, v in kv] if kv else None
            frontier.append(_Frontier(i, -1, row_kv, int(ids[i, -1]), int(positions[i, -1]),
                                      ids[i, pad:].tolist(), 0, 0))
        return frontier, pixels

    # ----------------------------------------------------------------------------------------------
    def _sentence_step(self, frontier: list[_Frontier], trees: list[SearchTree]):
        """Diverse beam search for one sentence from every frontier node at once."""
        s = self.s
        R, G = s.token_beams, s.beam_groups
        B = R // G
        n_states = len(frontier)
        rows = n_states * R
        # Running beams: in each group only the first beam starts live (as HF group beam search).
        beam_scores = torch.full((rows,), NEG_INF, device=self.device)
        beam_scores[torch.arange(0, rows, B, device=self.device)] = 0.0
        tokens: list[list[int]] = [[] for _ in range(rows)]
        logps: list[list[float]] = [[] for _ in range(rows)]
        pending = torch.tensor([f.pending for f in frontier], device=self.device).repeat_interleave(R)
        position = torch.tensor([f.position for f in frontier], device=self.device).repeat_interleave(R)
        hyps: list[list[list]] = [[[] for _ in range(G)] for _ in range(n_states)]
        done = [[False] * G for _ in range(n_states)]
        cache, mask, pads = self._batch_cache(frontier, R, s.max_sentence_tokens + 1) if self.use_cache \
            else (None, None, None)

        for t in range(s.max_sentence_tokens):
            logp, cache, mask = self._next_logprobs(frontier, R, tokens, pending, position, cache, mask)
            step_tokens = torch.full((rows,), -1, dtype=torch.long, device=self.device)
            source = torch.arange(rows, device=self.device)
            new_scores = beam_scores.clone()
            counts = torch.zeros(n_states, logp.shape[-1], device=self.device)
            for g in range(G):
                group_rows = (torch.arange(n_states, device=self.device)[:, None] * R + g * B
                              + torch.arange(B, device=self.device)[None, :])  # [S, B]
                processed = logp[group_rows] - s.diversity_penalty * counts[:, None, :]
                cand = (beam_scores[group_rows][:, :, None] + processed).reshape(n_states, -1)
                top_scores, top_idx = cand.topk(2 * B, dim=-1)
                for si, (scores_i, idx_i) in enumerate(zip(top_scores.tolist(), top_idx.tolist())):
                    if done[si][g]:
                        continue
                    filled = 0
                    for rank, (score, flat) in enumerate(zip(scores_i, idx_i)):
                        beam, token = divmod(flat, logp.shape[-1])
                        src = si * R + g * B + beam
                        if token in self.stops:
                            if rank >= B or score <= NEG_INF / 2:
                                continue
                            length = len(tokens[src]) + 1
                            kv = (lambda r=src, i=si: self._row_kv(cache, pads, r, i)) if cache is not None else None
                            self._add_hypothesis(hyps[si][g], B, score / length,
                                                 tokens[src] + [token], logps[src] + [float(logp[src, token])],
                                                 "eos" if token == self.eos else "period", kv, token,
                                                 int(position[src]) + 1)
                        else:
                            dst = si * R + g * B + filled
                            source[dst] = src
                            step_tokens[dst] = token
                            new_scores[dst] = score
                            filled += 1
                        if filled == B:
                            break
                    for b in range(filled, B):  # fewer than B live continuations: the slot stays dead
                        new_scores[si * R + g * B + b] = NEG_INF
                    chosen = step_tokens[si * R + g * B: si * R + g * B + B]
                    chosen = chosen[chosen >= 0]
                    counts[si].index_add_(0, chosen, torch.ones(len(chosen), device=self.device))
                    # HF's heuristic early stop: enough hypotheses, and no running beam can beat the worst.
                    if len(hyps[si][g]) >= B:
                        best_running = max(new_scores[si * R + g * B: si * R + g * B + B].tolist())
                        if hyps[si][g][-1][0] >= best_running / (len(tokens[si * R + g * B]) + 1):
                            done[si][g] = True
            # Reorder running beams to their sources, then append the chosen tokens.
            src_list = source.tolist()
            new_tokens, new_logps = [], []
            for r in range(rows):
                tok = int(step_tokens[r])
                if tok < 0:  # a finished group: keep its row idle
                    new_tokens.append(tokens[r])
                    new_logps.append(logps[r])
                    continue
                new_tokens.append(tokens[src_list[r]] + [tok])
                new_logps.append(logps[src_list[r]] + [float(logp[src_list[r], tok])])
            tokens, logps = new_tokens, new_logps
            if cache is not None and src_list != list(range(rows)):
                cache.select_rows(source)
            beam_scores = new_scores
            idle = step_tokens < 0
            pending = torch.where(idle, pending, step_tokens)
            position = position + 1
            if all(all(d) for d in done):
                break
        else:
            # Sentence-length limit: running beams of unfinished groups become (truncated) hypotheses.
            for si in range(n_states):
                for g in range(G):
                    if done[si][g]:
                        continue
                    for b in range(B):
                        r = si * R + g * B + b
                        if float(beam_scores[r]) <= NEG_INF / 2 or not tokens[r]:
                            continue
                        kv = (lambda r=r, i=si: self._row_kv(cache, pads, r, i)) if cache is not None else None
                        self._add_hypothesis(hyps[si][g], B, float(beam_scores[r]) / len(tokens[r]), tokens[r],
                                             logps[r], "max_sentence_tokens", kv, int(pending[r]),
                                             int(position[r]))
        return self._make_nodes(frontier, hyps, trees)

    @staticmethod
    def _add_hypothesis(group_hyps: list, capacity: int, score: float, toks, lps, stop, kv, pending, position):
        """Keep the best ``capacity`` hypotheses; ``kv`` (a function) copies the row's cache only when kept."""
        if len(group_hyps) >= capacity and score <= group_hyps[-1][0]:
            return
        group_hyps.append((score, toks, lps, stop, kv() if kv is not None else None, pending, position))
        group_hyps.sort(key=lambda h: -h[0])
        del group_hyps[capacity:]

    def _make_nodes(self, frontier, hyps, trees):
        s, tok = self.s, self.processor.tokenizer
        out = []
        for si, f in enumerate(frontier):
            tree = trees[f.prompt_index]
            found = sorted((h for group in hyps[si] for h in group), key=lambda h: -h[0])[: s.token_beams]
            for score, toks, lps, stop, kv, pending, position in found:
                text_ids = [t for t in toks if t != self.eos]
                if not text_ids:  # EOS alone: the response may end after the parent sentence
                    if f.node_id >= 0:
                        tree.nodes[f.node_id].can_end = True
                    continue
                response_tokens = f.response_tokens + len(toks)
                depth = f.depth + 1
                if stop == "eos":
                    ends = True
                elif response_tokens >= s.max_response_tokens:
                    ends, stop = True, "max_response_tokens"
                elif depth >= s.max_sentences:
                    ends, stop = True, "max_sentences"
                else:
                    ends = False
                node = SentenceNode(len(tree.nodes), f.node_id, depth, tok.decode(text_ids, skip_special_tokens=True)
                                    .strip(), toks, lps, score, stop, ends_response=ends)
                tree.nodes.append(node)
                child = _Frontier(f.prompt_index, node.node_id, kv, pending, position,
                                  f.history + toks, response_tokens, depth)
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

    # ----------------------------------------------------------------------------------------------
    def _batch_cache(self, frontier: list[_Frontier], R: int, room: int):
        """Left-pad the frontier's caches to one length, repeat each for its R token beams, and reserve ``room``
        positions for the sentence (no copy per token; see kv_cache.py)."""
        cache = ReservedCache.from_rows([f.kv for f in frontier], R, room)
        longest = cache.layers[0].length
        pads = [longest - f.kv[0][0].shape[2] for f in frontier]
        mask = torch.tensor([[0] * pad + [1] * (longest - pad) for pad in pads], device=self.device)
        return cache, mask.repeat_interleave(R, 0), pads

    @staticmethod
    def _row_kv(cache, pads, row: int, state: int):
        """One row's cache without its left padding (a copy: the batch tensor is freed next step)."""
        return [(k[row:row + 1, :, pads[state]:].clone(), v[row:row + 1, :, pads[state]:].clone())
                for k, v in cache.tensors()]

    def _next_logprobs(self, frontier, R, tokens, pending, position, cache, mask):
        """Log-probabilities of the next token for every row: one cached step, or (reference) a full recompute."""
        with torch.inference_mode():
            if cache is not None:
                mask = torch.cat([mask, torch.ones(len(mask), 1, dtype=mask.dtype, device=self.device)], dim=1)
                out = self.model(input_ids=pending[:, None], attention_mask=mask, position_ids=position[:, None],
                                 cache=cache, use_cache=True)  # the cache is written in place
                return torch.log_softmax(out.logits[:, -1].float(), dim=-1), cache, mask
            sequences = [frontier[r // R].history + tokens[r] for r in range(len(tokens))]
            longest = max(map(len, sequences))
            pad_id = self.processor.tokenizer.pad_token_id or 0
            ids = torch.tensor([[pad_id] * (longest - len(q)) + q for q in sequences], device=self.device)
            attn = torch.tensor([[0] * (longest - len(q)) + [1] * len(q) for q in sequences], device=self.device)
            positions = (attn.cumsum(-1) - 1).clamp(min=0)
            pixels = self._pixels[[f.prompt_index for f in frontier]].repeat_interleave(R, 0)
            out = self.model(input_ids=ids, attention_mask=attn, position_ids=positions, pixel_values=pixels,
                             use_cache=False)
            return torch.log_softmax(out.logits[:, -1].float(), dim=-1), None, None
