"""One interface to the model endpoint: the local HTTP container or a SageMaker endpoint by name.

Both speak the SageMaker container contract with JSON: ``{"instances": [[...], ...]}`` (null =
missing) in, ``{"predictions": [...], "model_version", "threshold", "feature_set"}`` out. Any
failure raises :class:`EndpointError`: the caller fails the whole batch and retries it, because an
endpoint outage says nothing about the records themselves.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fraudstream.settings import Settings, get_settings

Row = Sequence[float | None]


class EndpointError(RuntimeError):
    """The endpoint could not score a batch (unreachable, 5xx, 4xx, or a malformed answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class EndpointResult:
    """One probability per input row, and what the serving model says about itself."""

    probabilities: list[float]
    model_version: str | None = None
    threshold: float | None = None
    feature_set: str | None = None


class ScoringEndpoint(Protocol):
    """Anything that turns rows of model inputs into probabilities."""

    def predict(self, rows: Sequence[Row]) -> EndpointResult: ...


def request_body(rows: Sequence[Row]) -> bytes:
    """JSON body; NaN becomes null (the contract's missing value)."""
    instances = [[None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in r] for r in rows]
    return json.dumps({"instances": instances}).encode()


def parse_response(body: bytes | str, n_rows: int) -> EndpointResult:
    """Validate the endpoint's JSON answer: exactly one finite probability in [0, 1] per row."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EndpointError(f"endpoint answered non-JSON: {exc}") from None
    preds = doc.get("predictions") if isinstance(doc, dict) else None
    if not isinstance(preds, list) or len(preds) != n_rows:
        got = len(preds) if isinstance(preds, list) else type(preds).__name__
        raise EndpointError(f"endpoint returned {got} predictions for {n_rows} rows")
    probabilities = []
    for p in preds:
        if isinstance(p, dict):  # tolerate {"score": p} / {"probability": p} styles
            p = p.get("probability", p.get("score"))
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= float(p) <= 1.0:
            raise EndpointError(f"endpoint returned an invalid probability {p!r}")
        probabilities.append(float(p))
    threshold = doc.get("threshold")
    version = doc.get("model_version")
    feature_set = doc.get("feature_set")
    return EndpointResult(
        probabilities=probabilities,
        model_version=str(version) if version is not None else None,
        threshold=float(threshold) if isinstance(threshold, int | float) else None,
        feature_set=str(feature_set) if feature_set else None,
    )


class HttpEndpoint:
    """The local SageMaker-style container at ``url`` (``/invocations`` is appended)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self._client = httpx.Client(timeout=timeout)

    def predict(self, rows: Sequence[Row]) -> EndpointResult:
        import httpx

        if not rows:
            return EndpointResult([])
        try:
            response = self._client.post(
                f"{self.url}/invocations",
                content=request_body(rows),
                headers={"Content-Type": "application/json", "Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise EndpointError(f"endpoint {self.url} unreachable: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise EndpointError(
                f"endpoint {self.url} answered {response.status_code}: {response.text[:500]}", response.status_code
            )
        return parse_response(response.content, len(rows))

    def ping(self) -> bool:
        import httpx

        try:
            return self._client.get(f"{self.url}/ping").status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._client.close()


class SageMakerEndpoint:
    """A real SageMaker endpoint reached by name through ``sagemaker-runtime InvokeEndpoint``."""

    def __init__(self, name: str, settings: Settings | None = None, client: Any = None) -> None:
        from fraudstream.aws_clients import aws_client

        self.name = name
        self.settings = settings or get_settings()
        self.client = client or aws_client("sagemaker-runtime", self.settings)

    def predict(self, rows: Sequence[Row]) -> EndpointResult:
        from botocore.exceptions import BotoCoreError, ClientError

        if not rows:
            return EndpointResult([])
        try:
            response = self.client.invoke_endpoint(
                EndpointName=self.name,
                ContentType="application/json",
                Accept="application/json",
                Body=request_body(rows),
            )
            body = response["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise EndpointError(f"SageMaker endpoint {self.name!r} failed: {exc}") from None
        return parse_response(body, len(rows))


def endpoint_from_settings(settings: Settings | None = None) -> ScoringEndpoint:
    """SageMaker by name when ``sagemaker_endpoint_name`` is set, else the HTTP endpoint URL."""
    settings = settings or get_settings()
    if settings.sagemaker_endpoint_name:
        return SageMakerEndpoint(settings.sagemaker_endpoint_name, settings)
    return HttpEndpoint(settings.endpoint_url)
