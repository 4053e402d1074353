"""boto3 clients for every part of the system (stack, handlers, feature store, deploy), built one way.

The endpoint comes from one place: an explicit URL, else ``FRAUDSTREAM_AWS_ENDPOINT_URL``, else
``AWS_ENDPOINT_URL`` (``Settings.aws_endpoint_override``); ``aws`` or an empty value means real AWS.
With neither set, the local stack's DynamoDB Local is the default, except for ``deploy``, which must
never fall back to an emulator (``local_default=False``). Retries are botocore's standard mode with
``Settings.aws_max_attempts`` attempts everywhere.
"""

from __future__ import annotations

import os
from typing import Any

from fraudstream.settings import Settings, get_settings


def resolve_endpoint_url(
    explicit: str | None = None, settings: Settings | None = None, *, local_default: bool = True
) -> str | None:
    """The API endpoint (None = real AWS): ``explicit`` > the settings' override > the local default."""
    settings = settings or get_settings()
    if explicit is not None:  # read the way the settings read their own override
        settings = settings.model_copy(update={"aws_endpoint_override": explicit})
    if settings.aws_endpoint_override is None and not local_default:
        return None
    return settings.aws_endpoint_url


def _local_credentials(endpoint_url: str | None) -> dict[str, str]:
    """Dummy credentials for an emulator when boto3's credential chain has none (never for AWS)."""
    if endpoint_url is None or os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return {}
    return {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def boto_client(service: str, region: str, endpoint_url: str | None, max_attempts: int, **kwargs: Any) -> Any:
    """A boto3 client for ``service`` at ``endpoint_url`` (None = AWS), standard-mode retries."""
    import boto3
    from botocore.config import Config

    config = kwargs.pop("config", None) or Config(retries={"max_attempts": max_attempts, "mode": "standard"})
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        config=config,
        **_local_credentials(endpoint_url),
        **kwargs,
    )


def aws_client(service: str, settings: Settings | None = None, endpoint_url: str | None = None, **kwargs: Any) -> Any:
    """A boto3 client for ``service`` at the configured endpoint (or ``endpoint_url``)."""
    settings = settings or get_settings()
    url = resolve_endpoint_url(endpoint_url, settings)
    return boto_client(service, settings.aws_region, url, settings.aws_max_attempts, **kwargs)


def dynamodb_client(settings: Settings | None = None, endpoint_url: str | None = None) -> Any:
    """The DynamoDB low-level client used by the feature store and the stack."""
    return aws_client("dynamodb", settings, endpoint_url)
