"""SageMaker-style inference endpoint (``GET /ping``, ``POST /invocations``) for the fraud model."""
