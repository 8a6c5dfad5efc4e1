"""ragloop's benchmarks: one module each, run as ``python -m bench.NAME`` on one harness
(``bench.harness``); ``bench.render`` turns their results into the docs."""
