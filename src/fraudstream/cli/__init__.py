"""The ``fraudstream`` command line (typer)."""
