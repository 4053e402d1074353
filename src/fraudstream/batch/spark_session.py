"""A SparkSession that fits this machine (2 cores / 24 GiB) and runs unchanged on a cluster.

Local runs (``master`` = ``local[*]``, the default) get small shuffle partitions, a 2 GiB driver,
UTC everywhere, no UI and quiet logs. Under ``spark-submit`` on a cluster (EMR, SageMaker
Processing, a standalone master) pass ``--master``/``master=`` and the cluster's own defaults win
for everything not set here.

Reading ``s3://`` / ``s3a://`` paths
-------------------------------------
* EMR: ``s3://bucket/key`` works out of the box (EMRFS); nothing to configure.
* Anywhere else (local, SageMaker Processing with plain Spark): put the S3A connector on the class
  path and let the default AWS credential chain find credentials, e.g.::

      FRAUDSTREAM_SPARK_PACKAGES=org.apache.hadoop:hadoop-aws:3.4.1 \\
      fraudstream batch training-set --input s3a://bucket/transactions/ --out s3a://bucket/training/

  ``get_spark`` then also maps the ``s3://`` scheme to S3A, so both spellings work. The
  hadoop-aws version must match Spark's bundled Hadoop (3.4.1 for Spark 4.0).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from fraudstream.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"
LOCAL_SHUFFLE_PARTITIONS = 8  # 2 cores: a handful of partitions; AQE coalesces smaller ones
LOCAL_DRIVER_MEMORY = "2g"  # local mode runs the executors inside the driver JVM

_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


def _quiet_log4j_config() -> str:
    """Path of a log4j2 config that only prints errors (Spark's default prints pages of INFO)."""
    path = Path(tempfile.gettempdir()) / "fraudstream-spark-log4j2.properties"
    if not path.exists() or path.read_text() != _LOG4J2:
        path.write_text(_LOG4J2)
    return str(path)


def session_conf(master: str | None = None) -> dict[str, str]:
    """Spark configuration for ``master`` (local settings only for a ``local`` master)."""
    settings = Settings()
    master = master or settings.spark_master or DEFAULT_MASTER
    java_opts = f"-Duser.timezone=UTC -Dlog4j2.configurationFile=file:{_quiet_log4j_config()}"
    conf = {
        "spark.master": master,
        "spark.app.name": "fraudstream-batch",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.extraJavaOptions": java_opts,
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.adaptive.enabled": "true",
        # UTC-adjusted Parquet timestamps (pandas/DuckDB read them as UTC), not legacy INT96
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        # training-set runs rewrite only the days they computed (idempotent re-runs per day)
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
    }
    if master.startswith("local"):
        conf |= {
            "spark.driver.memory": settings.spark_driver_memory or LOCAL_DRIVER_MEMORY,
            "spark.sql.shuffle.partitions": str(LOCAL_SHUFFLE_PARTITIONS),
            "spark.default.parallelism": str(LOCAL_SHUFFLE_PARTITIONS),
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
        }
    if settings.spark_packages:
        conf["spark.jars.packages"] = settings.spark_packages
    return conf


def get_spark(master: str | None = None, extra_conf: dict[str, str] | None = None) -> SparkSession:
    """The (shared) SparkSession; ``master`` defaults to $FRAUDSTREAM_SPARK_MASTER or ``local[*]``.

    Python workers run the interpreter that runs this code, so pandas UDFs see the same packages.
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in (session_conf(master) | (extra_conf or {})).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
