"""Ingestion: documents → clean text → chunks (with context and questions) → index."""
