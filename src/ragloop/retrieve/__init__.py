"""Retrieval: lexical, dense and question-index retrievers, fusion, reranking, filters."""
