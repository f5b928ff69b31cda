"""Shared parts of the gateway benchmarks: servers, the picows load client, CPU and memory probes.

The benchmark scripts (``benchmarks/bench_*.py``) put ``benchmarks/`` on
``sys.path``; the server processes are started as ``python -m benchkit.<name>``
with the same path, so nothing here is installed or imported by the gateway.
"""
