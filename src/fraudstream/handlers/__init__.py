"""Lambda-style handlers (agg-writer, fraud-scorer) and the local Kafka runner that invokes them."""
