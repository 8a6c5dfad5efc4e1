import pytest

from fakes import FakeLLMBackend
from ragloop.config import LLMSettings
from ragloop.errors import SchemaValidationError
from ragloop.models.cache import DiskCache
from ragloop.models.factory import build_llm
from ragloop.models.llm import LLMClient, parse_json_output


@pytest.mark.real_model
def test_cache_returns_identical_completion_and_counts_a_hit(tmp_path):
    llm = build_llm(LLMSettings(), tmp_path)
    msgs = [{"role": "user", "content": "Name one fruit."}]
    first = llm.complete(msgs, max_tokens=12)
    second = llm.complete(msgs, max_tokens=12)
    assert not first.cached and second.cached
    assert second.text == first.text
    assert (llm.usage.cache_hits, llm.usage.cache_misses) == (1, 1)
    assert llm.cache.hits == 1
    # different params are a different key
    third = llm.complete(msgs, max_tokens=13)
    assert not third.cached
    # the cache survives the process: a new client on the same folder hits
    again = build_llm(LLMSettings(), tmp_path).complete(msgs, max_tokens=12)
    assert again.cached and again.text == first.text


def test_no_cache_means_every_call_reaches_the_backend():
    backend = FakeLLMBackend("hi")
    client = LLMClient(backend, cache=None)
    client.complete([{"role": "user", "content": "x"}])
    client.complete([{"role": "user", "content": "x"}])
    assert len(backend.calls) == 2


def test_invalid_json_raises_with_raw_text_and_the_failure_is_cached(tmp_path):
    backend = FakeLLMBackend("sure! here you go: {\"a\": ")
    client = LLMClient(backend, DiskCache(tmp_path / "c.sqlite"))
    for _ in range(2):
        with pytest.raises(SchemaValidationError) as info:
            client.complete([{"role": "user", "content": "x"}], schema={"type": "object"})
        assert info.value.raw_text.startswith("sure!")
    assert "cached failure" in str(info.value)
    assert len(backend.calls) == 1  # the re-run did not reach the model
    assert (client.usage.cache_misses, client.usage.cache_hits) == (1, 1)
    # without a cache, every call reaches the model
    uncached = LLMClient(backend)
    with pytest.raises(SchemaValidationError):
        uncached.complete([{"role": "user", "content": "x"}], schema={"type": "object"})
    assert len(backend.calls) == 2


def test_json_is_found_inside_prose_and_validated():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    assert parse_json_output('```json\n{"a": 3}\n```', schema) == {"a": 3}
    with pytest.raises(SchemaValidationError, match="does not match"):
        parse_json_output('{"a": "three"}', schema)


def test_backend_output_settings_are_part_of_the_cache_key(tmp_path):
    cache = DiskCache(tmp_path / "c.sqlite")
    plain, penalised = FakeLLMBackend("a"), FakeLLMBackend("b")
    penalised.output_settings = {"repeat_penalty": 1.3}
    msgs = [{"role": "user", "content": "x"}]
    assert LLMClient(plain, cache).complete(msgs).text == "a"
    assert LLMClient(penalised, cache).complete(msgs).text == "b"
    assert LLMClient(plain, cache).complete(msgs).cached
