"""The cc-agg job's door for runtimes that take a file (``flink run --python``, Managed Service for Apache
Flink with ``pyFiles: src/``): everything is in :mod:`fraudstream.streaming.job_main`."""

from fraudstream.streaming.job_main import main

if __name__ == "__main__":
    raise SystemExit(main())
