"""boto3 clients built from the settings' ``endpoint_url`` (DynamoDB Local, LocalStack, moto or AWS)."""

from __future__ import annotations

import os
from typing import Any

from fraudstream.settings import Settings, get_settings


def _local_credentials(endpoint_url: str | None) -> dict[str, str]:
    """Dummy credentials for a local emulator when the environment has none (never for AWS)."""
    if endpoint_url is None or os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return {}
    return {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def aws_client(service: str, settings: Settings | None = None, endpoint_url: str | None = None, **kwargs: Any):
    """A boto3 client for ``service`` at the configured endpoint (or ``endpoint_url``)."""
    import boto3
    from botocore.config import Config

    settings = settings or get_settings()
    url = endpoint_url if endpoint_url is not None else settings.aws_endpoint_url
    config = kwargs.pop("config", None) or Config(retries={"max_attempts": 5, "mode": "standard"})
    return boto3.client(
        service,
        region_name=settings.aws_region,
        endpoint_url=url,
        config=config,
        **_local_credentials(url),
        **kwargs,
    )


def dynamodb_client(settings: Settings | None = None, endpoint_url: str | None = None):
    """The DynamoDB low-level client used by the feature store and the stack."""
    return aws_client("dynamodb", settings, endpoint_url)
