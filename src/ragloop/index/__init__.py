"""The index: where chunks, questions and their vectors are stored and searched."""
