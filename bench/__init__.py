"""Benchmarks of the gateway: ``python -m bench {ingest,e2e,burst,memory,profile} [--quick]``.

Every figure is measured against a baseline in the same run (a bare aiohttp handler, Rasa's
own REST webhook), so the ratios hold on a shared, busy machine. See docs/benchmarks.md.
"""
