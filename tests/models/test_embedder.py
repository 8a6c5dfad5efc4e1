import numpy as np
import pytest

from ragloop.models.cache import DiskCache
from ragloop.models.embedder import CachedEmbedder

pytestmark = pytest.mark.real_model


def test_similar_sentences_embed_closer_than_unrelated(real_embedder):
    a, b, c = real_embedder.embed_passages([
        "The cat sat on the mat.",
        "A kitten was sitting on the rug.",
        "Quarterly revenue grew by eight percent.",
    ])
    assert float(a @ b) > float(a @ c) + 0.2


def test_vectors_are_normalised_and_dim_reported(real_embedder):
    vecs = real_embedder.embed_queries(["hello", "a longer query about retrieval"])
    assert vecs.shape == (2, real_embedder.dim) == (2, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)


def test_batch_order_does_not_change_vectors(real_embedder):
    texts = ["short", "a much longer sentence that pads the batch " * 3, "medium length text"]
    together = real_embedder.embed_passages(texts)
    alone = np.vstack([real_embedder.embed_passages([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-3)


def test_token_counts_and_limit(real_embedder):
    assert real_embedder.max_tokens == 256
    assert real_embedder.count_tokens("hello world") == 2
    long_text = "word " * 1000
    assert real_embedder.count_tokens(long_text) == 1000
    # over-long input is truncated to the limit, not an error
    assert real_embedder.embed_passages([long_text]).shape == (1, 384)


def test_passage_cache_by_content_hash(real_embedder, tmp_path):
    cached = CachedEmbedder(real_embedder, DiskCache(tmp_path / "e.sqlite"))
    first = cached.embed_passages(["alpha beta", "gamma delta"])
    second = cached.embed_passages(["gamma delta", "alpha beta"])
    assert cached.cache.hits == 2
    assert np.allclose(first[::-1], second)
