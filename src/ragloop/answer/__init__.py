"""Answering: grounded prompts with citations, fast and slow strategies, and a router."""
