"""Retrieval metrics of one ranked list against a gold set: hit@k, recall@k, MRR@k, nDCG@k.

Computed with trec_eval (``pytrec-eval-terrier``) so the definitions are the standard ones:
binary relevance, nDCG with log2 discount, MRR cut at k. Ids are deduplicated keeping their
first (best) rank, so several chunks of one gold document count once at doc level.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytrec_eval


def dedupe(ids: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    return [i for i in ids if not (i in seen or seen.add(i))]


def retrieval_scores(ranked_ids: Sequence[str], gold_ids: Sequence[str],
                     ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """``{"hit@k", "recall@k", "mrr@k", "ndcg@k"}`` for every k. Empty gold → empty dict
    (the example is not scored, rather than scored zero)."""
    gold = set(gold_ids)
    if not gold:
        return {}
    ranked = dedupe(ranked_ids)
    qrels = {"q": {doc: 1 for doc in gold}}
    scores: dict[str, float] = {}
    for k in ks:
        top = ranked[:k]
        if not top:
            scores.update({f"hit@{k}": 0.0, f"recall@{k}": 0.0, f"mrr@{k}": 0.0,
                           f"ndcg@{k}": 0.0})
            continue
        # strictly decreasing scores keep our order (trec_eval re-sorts by score)
        run = {"q": {doc: float(len(top) - rank) for rank, doc in enumerate(top)}}
        measures = {f"success.{k}", f"recall.{k}", "recip_rank", f"ndcg_cut.{k}"}
        result = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)["q"]
        scores[f"hit@{k}"] = result[f"success_{k}"]
        scores[f"recall@{k}"] = result[f"recall_{k}"]
        scores[f"mrr@{k}"] = result["recip_rank"]
        scores[f"ndcg@{k}"] = result[f"ndcg_cut_{k}"]
    return scores


def context_scores(context_ids: Sequence[str], gold_ids: Sequence[str]) -> dict[str, float]:
    """Context selection: was gold among the chunks actually put in the prompt."""
    gold = set(gold_ids)
    if not gold:
        return {}
    found = gold & set(context_ids)
    return {"context_hit": float(bool(found)), "context_recall": len(found) / len(gold)}
