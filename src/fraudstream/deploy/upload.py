"""Put the packaged artifacts (and large templates) into the artifact bucket, content-addressed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fraudstream.deploy.package import PackageManifest

# CloudFormation accepts at most this many bytes inline; larger templates go through S3.
TEMPLATE_BODY_LIMIT = 51_200


def _encryption(kms_key_arn: str | None) -> dict[str, str]:
    """SSE-KMS with the deployment's key (the bucket policy refuses anything else); SSE-S3 without one."""
    if kms_key_arn:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn}
    return {"ServerSideEncryption": "AES256"}


def _owner(expected_owner: str | None) -> dict[str, str]:
    """``ExpectedBucketOwner``: S3 refuses the call when someone else owns the bucket."""
    return {"ExpectedBucketOwner": expected_owner} if expected_owner else {}


def object_exists(s3: Any, bucket: str, key: str, expected_owner: str | None = None) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key, **_owner(expected_owner))
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def upload_artifacts(
    s3: Any,
    bucket: str,
    manifest: PackageManifest,
    on_upload: Callable[[str, str, bool], None] | None = None,
    *,
    kms_key_arn: str | None = None,
    expected_owner: str | None = None,
) -> dict[str, str]:
    """Upload every artifact whose key is not in the bucket yet; returns artifact name -> S3 key.

    Keys carry the content hash, so an existing key already holds exactly these bytes."""
    keys: dict[str, str] = {}
    for name, artifact in sorted(manifest.artifacts.items()):
        key = artifact.s3_key
        skipped = object_exists(s3, bucket, key, expected_owner)
        if not skipped:
            extra = {**_encryption(kms_key_arn), **_owner(expected_owner)}
            s3.upload_file(artifact.path, bucket, key, ExtraArgs=extra)
        keys[name] = key
        if on_upload:
            on_upload(name, key, skipped)
    return keys


def template_source(
    s3: Any,
    bucket: str,
    path: Path,
    region: str,
    endpoint_url: str | None,
    *,
    kms_key_arn: str | None = None,
    expected_owner: str | None = None,
) -> dict[str, str]:
    """``TemplateBody`` for small templates, else an uploaded copy's ``TemplateURL``."""
    body = path.read_text()
    if len(body.encode()) <= TEMPLATE_BODY_LIMIT:
        return {"TemplateBody": body}
    import hashlib

    key = f"fraudstream/templates/{path.stem}-{hashlib.sha256(body.encode()).hexdigest()[:16]}{path.suffix}"
    if not object_exists(s3, bucket, key, expected_owner):
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), **_encryption(kms_key_arn), **_owner(expected_owner))
    if endpoint_url:
        return {"TemplateURL": f"{endpoint_url.rstrip('/')}/{bucket}/{key}"}
    return {"TemplateURL": f"https://{bucket}.s3.{region}.amazonaws.com/{key}"}
