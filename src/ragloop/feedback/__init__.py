"""Traces and user feedback, and exporters that turn them into training data."""
