"""Conversations: a follow-up made standalone before it is searched (``condensers``), the
turns the answer prompt carries (``window``), and the entry point that answers a request
with its conversation and keeps stored conversations turn by turn (``engine.Chat``).

The conversation travels in the ``AnswerRequest``; this room turns it into what the
answerer needs — ``search_query`` (the standalone query) and a ``conversation`` cut to the
prompt's budget — and leaves answering as it is: the router, the extractive floor and the
citations work per turn on this turn's retrieved chunks.
"""
