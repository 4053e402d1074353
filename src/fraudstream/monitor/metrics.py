"""Prometheus metrics of the monitor: counters of what it consumed, gauges set from each snapshot."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

WINDOW_LABEL = "window"


class MonitorMetrics:
    """One registry per monitor; label sets are bounded (window, topic, stage/reason, input, quantile)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.consumed = Counter("fraudstream_monitor_records", "Records applied to the store", ["topic"], registry=r)
        self.rejected = Counter(
            "fraudstream_monitor_rejected", "Records the monitor could not decode", ["topic"], registry=r
        )
        self.throughput = Gauge(
            "fraudstream_monitor_throughput_per_second", "Predictions per second", [WINDOW_LABEL], registry=r
        )
        self.latency = Gauge(
            "fraudstream_monitor_latency_seconds",
            "End-to-end latency, event time to scored",
            [WINDOW_LABEL, "quantile"],
            registry=r,
        )
        self.freshness = Gauge(
            "fraudstream_monitor_feature_age_seconds",
            "Age of the features at scoring time",
            [WINDOW_LABEL, "feature_group", "quantile"],
            registry=r,
        )
        self.decision_rate = Gauge(
            "fraudstream_monitor_decision_rate", "Share of predictions flagged as fraud", [WINDOW_LABEL], registry=r
        )
        self.quality = Gauge(
            "fraudstream_monitor_quality",
            "Precision, recall (at the served threshold) and PR-AUC on labelled rows",
            [WINDOW_LABEL, "model_version", "metric"],
            registry=r,
        )
        self.labelled = Gauge(
            "fraudstream_monitor_labelled_predictions", "Predictions with a label", [WINDOW_LABEL], registry=r
        )
        self.label_delay = Gauge(
            "fraudstream_monitor_label_delay_seconds",
            "Label time minus event time",
            [WINDOW_LABEL, "quantile"],
            registry=r,
        )
        self.dead_letters = Gauge(
            "fraudstream_monitor_dead_letters",
            "Dead letters in the window",
            [WINDOW_LABEL, "stage", "reason"],
            registry=r,
        )
        self.psi = Gauge(
            "fraudstream_monitor_psi", "PSI of an input against its training reference", ["input"], registry=r
        )
        self.drifted = Gauge("fraudstream_monitor_drifted", "1 when an input's PSI is above 0.2", ["input"], registry=r)

    def update(self, snap: dict[str, Any]) -> None:
        """Set every gauge from a :func:`~fraudstream.monitor.figures.snapshot`."""
        self.dead_letters.clear()
        self.quality.clear()
        for window, w in snap["windows"].items():
            self.throughput.labels(window).set(w["throughput_per_s"])
            for q in ("p50", "p99"):
                _set(self.latency.labels(window, q), w["latency_s"][q])
                _set(self.freshness.labels(window, "cc-agg-fg", q), w["freshness_10m_s"][q])
                _set(self.freshness.labels(window, "cc-agg-batch-fg", q), w["freshness_1w_s"][q])
                _set(self.label_delay.labels(window, q), w["label_delay_s"][q])
            _set(self.decision_rate.labels(window), w["decision_rate"])
            self.labelled.labels(window).set(w["quality"]["labelled"])
            for version, v in {"all": {"quality": w["quality"]}, **w["by_model_version"]}.items():
                for metric in ("precision", "recall", "pr_auc"):
                    if v["quality"].get(metric) is not None:
                        self.quality.labels(window, version, metric).set(v["quality"][metric])
            for d in w["dead_letters"]:
                self.dead_letters.labels(window, d["stage"], d["reason"]).set(d["count"])
        for name, d in snap["drift"].items():
            self.psi.labels(name).set(d["psi"])
            self.drifted.labels(name).set(1 if d["drifted"] else 0)


def _set(gauge: Any, value: float | None) -> None:
    gauge.set(float("nan") if value is None else value)
