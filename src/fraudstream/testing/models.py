"""pytest fixtures: models (placeholder until its issue lands)."""
