"""ragloop: build, measure and improve LLM applications over private documents."""

__version__ = "0.1.0"
