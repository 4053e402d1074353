"""Which AWS API the deploy talks to: real AWS, or an emulator given by ``AWS_ENDPOINT_URL``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


def resolve_endpoint_url(explicit: str | None = None) -> str | None:
    """The API endpoint: ``explicit`` > ``AWS_ENDPOINT_URL`` > ``FRAUDSTREAM_AWS_ENDPOINT_URL``;
    None (or ``aws``) means real AWS. Unlike the local stack's settings, no default emulator."""
    for value in (explicit, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("FRAUDSTREAM_AWS_ENDPOINT_URL")):
        if value is not None and value.strip():
            return None if value.strip() == "aws" else value.strip()
    return None


@dataclass(frozen=True)
class AwsTarget:
    """A region plus an optional emulator endpoint; hands out boto3 clients for both."""

    region: str
    endpoint_url: str | None = None

    @property
    def is_emulator(self) -> bool:
        return self.endpoint_url is not None

    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        credentials: dict[str, str] = {}
        if self.is_emulator and not (os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")):
            credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            config=Config(retries={"max_attempts": 8, "mode": "standard"}),
            **credentials,
        )
