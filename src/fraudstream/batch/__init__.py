"""PySpark batch job: 1-week features for the online store, point-in-time training set, backfill.

Modules, one job each: ``spark_session`` (a session sized for this machine or a cluster), ``io``
(read the generator's transactions), ``stream_features`` (the 10-minute window, shared SQL),
``weekly_features`` (the nightly 1-week aggregates), ``training_set``, ``nightly`` (load + backfill)
and ``summary`` (the run summary). pyspark is imported lazily by callers, never at package import.
"""
