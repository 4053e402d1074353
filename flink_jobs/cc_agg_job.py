"""Flink job entry point: 10-minute per-card aggregates, ``transactions`` -> ``cc-agg``.

Loaded by ``fraudstream flink submit`` (``python cc_agg_job.py --rest-url ... --set k=v``), by
``flink run --python cc_agg_job.py`` and by Amazon Managed Service for Apache Flink (ship the
``fraudstream`` package next to this file; runtime properties group ``FraudstreamJob``).
Configuration, lowest to highest precedence: ``FRAUDSTREAM_*`` environment (Settings), MSF runtime
properties (``/etc/flink/application_properties.json``), ``--set key=value`` arguments.
Delivery is at-least-once; see :mod:`fraudstream.streaming.job`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlparse

_SRC = Path(__file__).resolve().parents[1] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:  # running from a source checkout
    sys.path.insert(0, str(_SRC))

from fraudstream.settings import Settings  # noqa: E402
from fraudstream.streaming.config import config_from_settings, msf_overrides, parse_set_args  # noqa: E402
from fraudstream.streaming.job import start_job  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="job setting override")
    parser.add_argument("--rest-url", help="submit to this session cluster (else the runtime's own target)")
    parser.add_argument("--print-sql", action="store_true", help="print the job's SQL and exit")
    args = parser.parse_args(argv)

    cfg = config_from_settings(Settings()).with_overrides({**msf_overrides(), **parse_set_args(args.set)})
    if args.print_sql:
        from fraudstream.streaming.sql import job_script

        print(job_script(cfg))
        return 0
    remote = None
    if args.rest_url:
        url = urlparse(args.rest_url)
        remote = (url.hostname or "127.0.0.1", url.port or 8081)
    job_id = start_job(cfg, remote)
    print(f"JOB_ID={job_id}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
