"""A small real XGBoost model (trained here in about a second, no Spark) for the endpoint's unit and
robustness tests; the contract tests in ``test_endpoint.py`` use the session's trained model."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from fraudstream import features as F
from fraudstream.model import registry

# hypothesis caches constants under ./.hypothesis by default: keep the work tree clean.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "fraudstream-hypothesis")

TINY_ROUNDS = 200  # about the real model's per-row cost, so a maximal request is as slow as in production


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry holding one ``extended`` XGBoost model trained on synthetic rows (``latest`` → it)."""
    import xgboost

    names = list(F.model_input_names("extended"))
    rng = np.random.default_rng(13)
    x = rng.uniform(0, 5, size=(4000, len(names))).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    y = ((np.nan_to_num(x[:, 1]) > 2.5) & (np.nan_to_num(x[:, 3]) > 1.0)).astype(np.float32)
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 6, "nthread": 1, "eta": 0.1},
        xgboost.DMatrix(x, label=y, feature_names=names),
        num_boost_round=TINY_ROUNDS,
    )
    model_dir = tmp_path_factory.mktemp("tiny-models")
    registry.save_model(
        model_dir,
        booster,
        feature_set="extended",
        feature_names=names,
        threshold=0.5,
        threshold_rule="fixed 0.5 (test model)",
        training_window={"synthetic": True},
        data_hash="synthetic",
    )
    return model_dir


class AppClient:
    """A synchronous client for an ASGI app in this process (httpx over ASGITransport, one event loop in a
    portal thread for the whole client, like a server's)."""

    def __init__(self, app) -> None:
        self.app = app

    def __enter__(self) -> AppClient:
        import httpx
        from anyio.from_thread import start_blocking_portal

        self._portal_cm = start_blocking_portal()
        self.portal = self._portal_cm.__enter__()
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://app")
        return self

    def __exit__(self, *exc: object) -> None:
        self.portal.call(self.client.aclose)
        self._portal_cm.__exit__(*exc)

    def request(self, method: str, url: str, **kwargs):
        return self.portal.call(lambda: self.client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs):
        return self.request("POST", url, **kwargs)


@pytest.fixture(scope="session")
def app_client() -> type[AppClient]:
    """``with app_client(app) as c: c.post(...)`` — the app served in-process (see ``AppClient``)."""
    return AppClient
