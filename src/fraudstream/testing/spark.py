"""pytest fixtures: spark (placeholder until its issue lands)."""
