"""confluent-kafka settings for Amazon MSK with IAM access control (SASL/OAUTHBEARER over TLS).

Used by every client built by ``kafka_clients`` and by the topic bootstrap function when
``FRAUDSTREAM_KAFKA_AUTH=msk-iam`` (the deployed Lambdas and Flink job get that variable).
"""

from __future__ import annotations

from typing import Any

MSK_IAM = "msk-iam"


def msk_iam_config(region: str) -> dict[str, Any]:
    """Extra client config: TLS + an OAUTHBEARER token signed with the role's credentials."""

    def oauth_cb(_config: str) -> tuple[str, float]:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
        return token, expiry_ms / 1000

    return {"security.protocol": "SASL_SSL", "sasl.mechanisms": "OAUTHBEARER", "oauth_cb": oauth_cb}


def auth_config(auth: str | None, region: str) -> dict[str, Any]:
    """The extra config for ``FRAUDSTREAM_KAFKA_AUTH``: nothing for plaintext, IAM for ``msk-iam``."""
    if not auth or auth in ("none", "plaintext"):
        return {}
    if auth == MSK_IAM:
        return msk_iam_config(region)
    raise ValueError(f"unknown Kafka auth {auth!r}: expected 'none' or '{MSK_IAM}'")
