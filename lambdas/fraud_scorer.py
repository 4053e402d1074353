"""AWS Lambda entry point of the fraud-scorer (MSK trigger on ``cc-agg``): ``fraud_scorer.handler``.

The package is bundled with the function; all logic lives in ``fraudstream.handlers.fraud_scorer``.
Environment: ``FRAUDSTREAM_SAGEMAKER_ENDPOINT_NAME`` (or ``FRAUDSTREAM_ENDPOINT_URL``),
``FRAUDSTREAM_KAFKA_BOOTSTRAP``, ``AWS_ENDPOINT_URL=aws``, optional ``FRAUDSTREAM_THRESHOLD`` and
``FRAUDSTREAM_FEATURE_SET``.
"""

from fraudstream.deploy.emf import instrumented
from fraudstream.handlers.fraud_scorer import handle


@instrumented  # records and dead letters by stage as CloudWatch metrics (EMF log lines)
def handler(event, context):
    """Score every transaction of the batch with one endpoint call; publish predictions."""
    return handle(event, context)
