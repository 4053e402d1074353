"""pytest fixtures: engines (placeholder until its issue lands)."""
