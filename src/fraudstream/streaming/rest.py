"""A small client for the Flink REST API (jobs, checkpoints, metrics, stop-with-savepoint).

Only the calls ``fraudstream flink`` needs; paths as documented for Flink 2.x
(``/jobs/overview``, ``/jobs/:id``, ``/jobs/:id/checkpoints``, ``/jobs/:id/stop``,
``/jobs/:id/savepoints/:trigger``, ``PATCH /jobs/:id?mode=cancel``).
"""

from __future__ import annotations

from typing import Any

import httpx

from fraudstream.waiting import wait_until

ACTIVE_STATES = frozenset({"INITIALIZING", "CREATED", "RUNNING", "RESTARTING", "RECONCILING", "FAILING"})
"""A job in one of these states counts as running for ``submit``'s idempotency."""


class FlinkRestError(RuntimeError):
    """The Flink REST API refused a request or an async operation failed."""


class FlinkRest:
    """Thin wrapper over ``httpx`` with the base URL of a session cluster."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> FlinkRest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise FlinkRestError(f"Flink REST API at {self.base_url} is unreachable ({exc})") from exc
        if resp.status_code >= 400:
            raise FlinkRestError(f"{method} {path} -> {resp.status_code}: {resp.text[:500]}")
        return resp.json() if resp.content else None

    # ---- jobs
    def jobs(self) -> list[dict[str, Any]]:
        """Every job the cluster knows (``/jobs/overview``): jid, name, state, start-time, ..."""
        return self._call("GET", "/jobs/overview").get("jobs", [])

    def active_jobs(self, name: str) -> list[dict[str, Any]]:
        return [j for j in self.jobs() if j.get("name") == name and j.get("state") in ACTIVE_STATES]

    def latest_job(self, name: str) -> dict[str, Any] | None:
        """The most recently started job with this name, in any state."""
        named = [j for j in self.jobs() if j.get("name") == name]
        return max(named, key=lambda j: j.get("start-time", 0)) if named else None

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id}")

    def checkpoints(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id}/checkpoints")

    def vertex_metrics(self, job_id: str, vertex_id: str, names: list[str]) -> dict[str, float]:
        """Aggregated (sum over subtasks) metric values of one vertex."""
        rows = self._call(
            "GET",
            f"/jobs/{job_id}/vertices/{vertex_id}/subtasks/metrics",
            params={"get": ",".join(names), "agg": "sum"},
        )
        return {row["id"]: float(row.get("sum", 0.0)) for row in rows or []}

    def vertex_metric_names(self, job_id: str, vertex_id: str) -> list[str]:
        rows = self._call("GET", f"/jobs/{job_id}/vertices/{vertex_id}/subtasks/metrics")
        return [row["id"] for row in rows or []]

    # ---- lifecycle
    def cancel(self, job_id: str) -> None:
        self._call("PATCH", f"/jobs/{job_id}", params={"mode": "cancel"})

    def stop_with_savepoint(self, job_id: str, target_directory: str | None = None, timeout: float = 120.0) -> str:
        """Stop the job with a savepoint and return the savepoint's location."""
        body: dict[str, Any] = {"drain": False}
        if target_directory:
            body["targetDirectory"] = target_directory
        trigger = self._call("POST", f"/jobs/{job_id}/stop", json=body)["request-id"]

        def finished() -> dict[str, Any] | None:
            status = self._call("GET", f"/jobs/{job_id}/savepoints/{trigger}")
            return status.get("operation", {}) if status.get("status", {}).get("id") == "COMPLETED" else None

        try:
            operation = wait_until(finished, timeout, f"the stop-with-savepoint of {job_id}", interval=0.5)
        except TimeoutError as exc:
            raise FlinkRestError(f"stop-with-savepoint of {job_id} did not finish within {timeout:.0f} s") from exc
        if "failure-cause" in operation:
            cause = operation["failure-cause"].get("stack-trace", "")[:1000]
            raise FlinkRestError(f"stop-with-savepoint of {job_id} failed: {cause}")
        return operation["location"]

    def wait_for_state(self, job_id: str, states: set[str], timeout: float = 120.0) -> str:
        """Poll until the job reaches one of ``states``; returns the state reached."""
        seen = {"state": "UNKNOWN"}

        def reached() -> str | None:
            state = seen["state"] = self.job(job_id).get("state", "UNKNOWN")
            if state in states:
                return state
            if state in ("FAILED", "CANCELED", "FINISHED"):
                raise FlinkRestError(f"job {job_id} ended in state {state}")
            return None

        try:
            return wait_until(reached, timeout, f"job {job_id} to be {sorted(states)}", interval=0.5)
        except TimeoutError as exc:
            state = seen["state"]
            raise FlinkRestError(f"job {job_id} is {state}, not {sorted(states)}, after {timeout:.0f} s") from exc

    def wait_until_all_tasks_running(self, job_id: str, timeout: float = 120.0) -> None:
        """Poll until every vertex of the job reports RUNNING (the job is consuming)."""

        def all_running() -> bool:
            info = self.job(job_id)
            if info.get("state") in ("FAILED", "CANCELED", "FINISHED"):
                raise FlinkRestError(f"job {job_id} ended in state {info.get('state')}")
            vertices = info.get("vertices", [])
            return bool(vertices) and all(v.get("status") == "RUNNING" for v in vertices)

        try:
            wait_until(all_running, timeout, f"every task of job {job_id} to run", interval=0.5)
        except TimeoutError as exc:
            raise FlinkRestError(f"job {job_id} tasks not all RUNNING after {timeout:.0f} s") from exc
