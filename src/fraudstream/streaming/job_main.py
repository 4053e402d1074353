"""Entry point of the cc-agg Flink job: ``python -m fraudstream.streaming.job_main``.

Runs wherever the ``fraudstream`` package is importable, so the job needs no file from the checkout:
``fraudstream flink submit`` runs it with the current interpreter (``--rest-url``), ``flink run -pym
fraudstream.streaming.job_main`` runs it with the package on the cluster client's Python path, and
Managed Service for Apache Flink runs it through ``flink_jobs/cc_agg_job.py`` (``pyFiles: src/``).
Configuration, lowest to highest precedence: ``FRAUDSTREAM_*`` environment (Settings), MSF runtime
properties (``/etc/flink/application_properties.json``), ``--set key=value`` arguments.
Delivery is at-least-once; see :mod:`fraudstream.streaming.job`.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlparse

from fraudstream.settings import get_settings
from fraudstream.streaming.config import JobConfig, config_from_settings, msf_overrides, parse_set_args

MODULE = "fraudstream.streaming.job_main"
"""What ``python -m`` and ``flink run -pym`` are given (this module)."""


def job_config_from(set_args: list[str]) -> JobConfig:
    """Settings, then MSF runtime properties, then ``--set`` arguments (each over the one before)."""
    return config_from_settings(get_settings()).with_overrides({**msf_overrides(), **parse_set_args(set_args)})


def main(argv: list[str] | None = None) -> int:
    """Print the job's SQL (``--print-sql``) or submit the job and print ``JOB_ID=<id>``."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="job setting override")
    parser.add_argument("--rest-url", help="submit to this session cluster (else the runtime's own target)")
    parser.add_argument("--print-sql", action="store_true", help="print the job's SQL and exit")
    args = parser.parse_args(argv)

    cfg = job_config_from(args.set)
    if args.print_sql:
        from fraudstream.streaming.sql import job_script

        print(job_script(cfg))
        return 0
    from fraudstream.streaming.job import start_job

    remote = None
    if args.rest_url:
        url = urlparse(args.rest_url)
        remote = (url.hostname or "127.0.0.1", url.port or 8081)
    print(f"JOB_ID={start_job(cfg, remote)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
