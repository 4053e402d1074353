"""fraudstream: real-time credit-card fraud scoring on Kafka, Flink, DynamoDB, Spark and XGBoost."""

__version__ = "0.1.0"
