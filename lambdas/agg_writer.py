"""AWS Lambda entry point of the agg-writer (MSK trigger on ``cc-agg``): ``agg_writer.handler``.

The package is bundled with the function; all logic lives in ``fraudstream.handlers.agg_writer``.
"""

from fraudstream.deploy.emf import instrumented
from fraudstream.handlers.agg_writer import handle


@instrumented  # records and dead letters by stage as CloudWatch metrics (EMF log lines)
def handler(event, context):
    """Write the newest aggregate of each card to ``cc-agg-fg``; report partial batch failures."""
    return handle(event, context)
