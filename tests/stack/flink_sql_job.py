"""A trivial Flink SQL job submitted with PyFlink to a running session cluster (run as a subprocess).

Reads JSON records from one Kafka topic (bounded: up to the offsets present at start), keeps the
ones with amount > 10, doubles the amount, and writes them as JSON to another topic. Being bounded,
the job finishes by itself; the script waits for it and exits 0.

Usage: python flink_sql_job.py <rest_host> <rest_port> <bootstrap> <source_topic> <sink_topic> <connector_jar>
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(rest_host: str, rest_port: str, bootstrap: str, source: str, sink: str, connector_jar: str) -> None:
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    conf = Configuration()
    conf.set_string("execution.target", "remote")
    conf.set_string("rest.address", rest_host)
    conf.set_string("rest.port", rest_port)
    conf.set_string("parallelism.default", "1")
    t_env = TableEnvironment.create(
        EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build()
    )
    t_env.get_config().set("pipeline.jars", Path(connector_jar).as_uri())
    t_env.execute_sql(f"""
        CREATE TABLE src (cc_num STRING, amount DOUBLE) WITH (
          'connector' = 'kafka', 'topic' = '{source}', 'properties.bootstrap.servers' = '{bootstrap}',
          'properties.group.id' = 'stack-smoke', 'scan.startup.mode' = 'earliest-offset',
          'scan.bounded.mode' = 'latest-offset', 'format' = 'json')
    """)
    t_env.execute_sql(f"""
        CREATE TABLE dst (cc_num STRING, doubled DOUBLE) WITH (
          'connector' = 'kafka', 'topic' = '{sink}', 'properties.bootstrap.servers' = '{bootstrap}',
          'format' = 'json')
    """)
    result = t_env.execute_sql("INSERT INTO dst SELECT cc_num, amount * 2 FROM src WHERE amount > 10")
    job_client = result.get_job_client()
    print(f"job {job_client.get_job_id()} submitted", flush=True)
    result.wait()
    print("job finished", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:7])
