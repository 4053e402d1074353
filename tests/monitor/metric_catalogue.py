"""Every Prometheus metric the code defines, by service: (service, name, type, labels, help) rows."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry

from fraudstream import kafka_metrics  # noqa: F401 - registers on REGISTRY
from fraudstream.handlers import metrics as handler_metrics  # noqa: F401 - registers on REGISTRY
from fraudstream.lake import metrics as lake_metrics  # noqa: F401 - registers on REGISTRY
from fraudstream.monitor.flink_bridge import FlinkBridge
from fraudstream.monitor.metrics import MonitorMetrics
from fraudstream.serving.metrics import EndpointMetrics
from fraudstream.settings import Settings
from fraudstream.stack import supervisor_metrics  # noqa: F401 - registers on REGISTRY

SERVICE_BY_PREFIX = (
    ("fraudstream_producer_", "producer"),
    ("fraudstream_clock_", "clock"),
    ("fraudstream_lake_", "lake"),
    ("fraudstream_supervisor_", "supervisor"),
)
"""The default registry holds several services' metrics: these prefixes are not the handlers'."""


def rows(service: str, registry: CollectorRegistry) -> list[tuple[str, str, str, str, str]]:
    out = []
    for collector in list(registry._collector_to_names):
        for family in collector.describe() if hasattr(collector, "describe") else []:
            if family.name.startswith("fraudstream_"):
                names = getattr(collector, "_labelnames", ()) or getattr(family, "_labelnames", ())
                owner = next((s for prefix, s in SERVICE_BY_PREFIX if family.name.startswith(prefix)), service)
                out.append((owner, family.name, family.type, ", ".join(names), family.documentation))
    return out


def flink_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(FlinkBridge(Settings()))
    return registry


def catalogue() -> list[tuple[str, str, str, str, str]]:
    return sorted(
        set(
            rows("monitor", MonitorMetrics().registry)
            + rows("flink", flink_registry())
            + rows("handlers", REGISTRY)
            + rows("endpoint", EndpointMetrics("v", "anchor").registry)
        )
    )


if __name__ == "__main__":
    for r in catalogue():
        print("| " + " | ".join(f"`{c}`" if i in (1, 3) and c else c for i, c in enumerate(r)) + " |")
