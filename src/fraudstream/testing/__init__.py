"""pytest plugins that give tests real engines (Kafka, DynamoDB Local, Flink, Spark, endpoint).

Loaded from ``tests/conftest.py``; usable by any project that depends on fraudstream.

What lives here and what in ``tests/``: here, what more than one test directory or the benchmarks
need to reach the real engines (session fixtures, settings on free ports, the chaos delivery check),
and what a project built on fraudstream would want for its own tests; it imports pytest and needs
the ``dev`` extra, and nothing else in the package imports it (``tests/packaging`` checks), so an
installation without pytest runs every command. In ``tests/``, mirroring the package: the tests
themselves and the helpers only one test file uses.
"""
