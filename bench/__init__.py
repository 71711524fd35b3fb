"""Benchmarks of journeylake (issue 13): ``make bench`` runs :mod:`bench.run_bench`.

Not tests: nothing here fails on speed. Each module is a script run with ``python -m bench.<module>``
from the project root; :mod:`bench.scale_run` measures one scale in a fresh process.
"""
