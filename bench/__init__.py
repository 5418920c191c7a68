"""Benchmarks (issue 6): load and latency scenarios against the real stack, on loopback only."""
