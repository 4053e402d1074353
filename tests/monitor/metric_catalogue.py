"""Every Prometheus metric the code defines, by service: (name, type, labels, help) rows."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry

from fraudstream.handlers import metrics as handler_metrics  # noqa: F401 - registers on REGISTRY
from fraudstream.monitor.metrics import MonitorMetrics
from fraudstream.serving.metrics import EndpointMetrics


def rows(service: str, registry: CollectorRegistry) -> list[tuple[str, str, str, str, str]]:
    out = []
    for collector in list(registry._collector_to_names):
        labels = ", ".join(getattr(collector, "_labelnames", ()))
        for family in collector.describe() if hasattr(collector, "describe") else []:
            if family.name.startswith("fraudstream_"):
                out.append((service, family.name, family.type, labels, family.documentation))
    return out


def catalogue() -> list[tuple[str, str, str, str, str]]:
    return sorted(
        set(
            rows("monitor", MonitorMetrics().registry)
            + rows("handlers", REGISTRY)
            + rows("endpoint", EndpointMetrics("v", "anchor").registry)
        )
    )


if __name__ == "__main__":
    for r in catalogue():
        print("| " + " | ".join(f"`{c}`" if i in (1, 3) and c else c for i, c in enumerate(r)) + " |")
