"""The streaming half of the pipeline: the Flink SQL job that enriches every transaction with its
card's 10-minute features (``transactions`` -> ``cc-agg``), and the tools that submit, watch and stop it.

Modules: ``config`` (what the job needs to know, from settings, MSF runtime properties or args),
``sql`` (the DDL and INSERT statements, generated from :mod:`fraudstream.features`), ``job`` (builds
and runs the statement set with PyFlink), ``rest`` (a small Flink REST client) and ``submit``
(idempotent submit, status, stop with savepoint).
"""
