"""The production loop over live traffic: online scores of stored traces (cheap, calibrated
checks first; LLM judges at a stated rate and budget), the review queue that asks a human
about the answers worth a look, and the quality dashboard over time."""
