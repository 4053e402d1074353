"""Put the packaged artifacts (and large templates) into the artifact bucket, content-addressed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fraudstream.deploy.package import PackageManifest

# CloudFormation accepts at most this many bytes inline; larger templates go through S3.
TEMPLATE_BODY_LIMIT = 51_200


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def upload_artifacts(
    s3: Any, bucket: str, manifest: PackageManifest, on_upload: Callable[[str, str, bool], None] | None = None
) -> dict[str, str]:
    """Upload every artifact whose key is not in the bucket yet; returns artifact name -> S3 key.

    Keys carry the content hash, so an existing key already holds exactly these bytes."""
    keys: dict[str, str] = {}
    for name, artifact in sorted(manifest.artifacts.items()):
        key = artifact.s3_key
        skipped = object_exists(s3, bucket, key)
        if not skipped:
            s3.upload_file(artifact.path, bucket, key, ExtraArgs={"ServerSideEncryption": "AES256"})
        keys[name] = key
        if on_upload:
            on_upload(name, key, skipped)
    return keys


def template_source(s3: Any, bucket: str, path: Path, region: str, endpoint_url: str | None) -> dict[str, str]:
    """``TemplateBody`` for small templates, else an uploaded copy's ``TemplateURL``."""
    body = path.read_text()
    if len(body.encode()) <= TEMPLATE_BODY_LIMIT:
        return {"TemplateBody": body}
    import hashlib

    key = f"fraudstream/templates/{path.stem}-{hashlib.sha256(body.encode()).hexdigest()[:16]}{path.suffix}"
    if not object_exists(s3, bucket, key):
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ServerSideEncryption="AES256")
    if endpoint_url:
        return {"TemplateURL": f"{endpoint_url.rstrip('/')}/{bucket}/{key}"}
    return {"TemplateURL": f"https://{bucket}.s3.{region}.amazonaws.com/{key}"}
