"""Online feature store: feature-group declarations and the DynamoDB backend."""
