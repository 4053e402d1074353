"""Which AWS API the deploy talks to: real AWS, or an emulator given by the endpoint settings.

The endpoint is resolved as for every other client (:func:`fraudstream.aws_clients.resolve_endpoint_url`)
but with no default emulator: unset means real AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fraudstream.aws_clients import boto_client
from fraudstream.aws_clients import resolve_endpoint_url as _resolve
from fraudstream.settings import get_settings


def resolve_endpoint_url(explicit: str | None = None) -> str | None:
    """The deploy's API endpoint: ``explicit`` > ``FRAUDSTREAM_AWS_ENDPOINT_URL`` > ``AWS_ENDPOINT_URL``;
    None (or ``aws``) means real AWS."""
    return _resolve(explicit, local_default=False)


@dataclass(frozen=True)
class AwsTarget:
    """A region plus an optional emulator endpoint; hands out boto3 clients for both."""

    region: str
    endpoint_url: str | None = None
    max_attempts: int = field(default_factory=lambda: get_settings().aws_max_attempts)

    @property
    def is_emulator(self) -> bool:
        return self.endpoint_url is not None

    def client(self, service: str) -> Any:
        return boto_client(service, self.region, self.endpoint_url, self.max_attempts)
