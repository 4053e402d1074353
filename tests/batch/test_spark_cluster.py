"""The spark_batch/ entry point under ``spark-submit --master spark://…`` on a real standalone cluster.

A master and one worker start from the pyspark distribution on loopback; the nightly job (into
DynamoDB Local) and the training set run there and must equal the ``local[*]`` computation.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from fraudstream import features as F
from fraudstream.aws_clients import dynamodb_client
from fraudstream.batch.io import read_transactions
from fraudstream.batch.training_set import build_training_set
from fraudstream.batch.weekly_features import weekly_features
from fraudstream.featurestore.dynamodb_store import from_item, is_reserved_key
from fraudstream.featurestore.groups import BATCH_GROUP
from fraudstream.settings import settings_env
from fraudstream.testing.spark_cluster import standalone_cluster

from .helpers import random_transactions

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
JOB = ROOT / "spark_batch" / "nightly_job.py"
AS_OF = date(2020, 1, 15)


def store_items(settings) -> dict[str, tuple[int, float | None]]:
    client = dynamodb_client(settings)
    items = {}
    for page in client.get_paginator("scan").paginate(TableName=BATCH_GROUP.table_name(settings), ConsistentRead=True):
        for item in page["Items"]:
            if not is_reserved_key(item["cc_num"]["S"]):
                r = from_item(BATCH_GROUP, item)
                items[r["cc_num"]] = (r[F.NUM_TRANS_LAST_1W], r[F.AVG_AMT_LAST_1W])
    return items


def test_cluster_runs_equal_local(spark, isolated_tables, tmp_path: Path) -> None:
    tx = random_transactions(tmp_path / "tx.parquet", cards=30, rows=2000)
    env = settings_env(isolated_tables)
    with standalone_cluster(tmp_path / "cluster") as cluster:
        cluster.submit(JOB, "nightly", "--input", tx, "--as-of", AS_OF.isoformat(), env=env)
        cluster.submit(JOB, "training-set", "--input", tx, "--out", str(tmp_path / "ts-cluster"), env=env)
        assert cluster.finished_apps() == 2  # both ran on the cluster's executors, not in a local driver

    local = {
        r["cc_num"]: (int(r[F.NUM_TRANS_LAST_1W]), float(r[F.AVG_AMT_LAST_1W]))
        for r in weekly_features(read_transactions(spark, tx), AS_OF).collect()
    }
    written = {c: v for c, v in store_items(isolated_tables).items() if v[0]}
    assert written.keys() == local.keys() and len(local) > 10
    for card, (count, mean) in local.items():
        assert written[card][0] == count and written[card][1] == pytest.approx(mean, rel=1e-12), card

    build_training_set(spark, tx, str(tmp_path / "ts-local"), settings=isolated_tables)

    def rows(path: Path) -> pd.DataFrame:
        frame = spark.read.parquet(str(path)).toPandas()
        return frame[sorted(frame.columns)].sort_values("tid").reset_index(drop=True)

    pd.testing.assert_frame_equal(rows(tmp_path / "ts-cluster"), rows(tmp_path / "ts-local"))
