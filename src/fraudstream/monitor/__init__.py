"""The monitor: joins predictions to late labels on disk, and serves live quality, freshness and drift."""
