"""The lake (offline store): what flowed through Kafka, as Parquet partitioned by UTC day.

``<lake_dir>/<topic>/day=YYYY-MM-DD/part-*.parquet`` for ``transactions``, ``labels`` and
``predictions``, written by :mod:`fraudstream.lake.archiver` (at-least-once) and read
de-duplicated by ``tid`` through :mod:`fraudstream.lake.spark_reader`.
"""
