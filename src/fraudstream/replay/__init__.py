"""Replays of simulated fraud attacks through the live pipeline, with a per-transaction report.

``scenario_file`` (the scenario model and its JSON/YAML loader), ``scenarios`` (the built-in
library), ``plan`` (scenario → concrete transactions), ``runner`` (send, heartbeat, collect
predictions by tid) and ``report`` (table, summary, JSON, PNG).
"""
