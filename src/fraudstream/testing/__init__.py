"""pytest plugins that give tests real engines (Kafka, DynamoDB Local, Flink, Spark, endpoint).

Loaded from ``tests/conftest.py``; usable by any project that depends on fraudstream.
"""
