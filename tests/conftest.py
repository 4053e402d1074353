"""Session fixtures come from the fraudstream.testing plugins, one module per engine."""

pytest_plugins = [
    "fraudstream.testing.engines",
    "fraudstream.testing.data",
    "fraudstream.testing.spark",
    "fraudstream.testing.models",
]
