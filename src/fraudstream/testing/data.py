"""pytest fixtures: data (placeholder until its issue lands)."""
