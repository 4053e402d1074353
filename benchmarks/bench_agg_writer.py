"""Benchmark: agg-writer store writes (items/s of newer-wins conditional puts) into DynamoDB Local.

For each ``--cards`` value (distinct cards = items in the batch), times ``DynamoFeatureStore.put_many``
on the stream group with:

- ``put, 8 threads, pool 10`` — the previous design: one ``PutItem`` per record on 8 threads
  through a client with botocore's default ``max_pool_connections`` (10);
- ``put, 32 threads, pool 32`` — the same with more threads and connections;
- ``transact, N in flight`` — ``TransactWriteItems`` of 100 conditional puts, N at once (the design
  ``put_many`` uses by default).

Each run writes every card once with a newer event time than the last run (all written), and the
transactional design also runs a *conflicting* batch: half the cards carry an older event time
(each transaction is cancelled once, those items are skipped, the rest is retried). The single-put
runs are limited to ``--put-items`` records (they are slow). DynamoDB Local is a JVM: a warm-up
(``--warmup`` items through both paths into a scratch table) runs first, so that no design is timed
on a cold JIT. Uses ``AWS_ENDPOINT_URL`` when set, else starts a private DynamoDB Local. The
machine load (``os.getloadavg``) is recorded at the start and end of every run. Writes
``benchmarks/results/agg_writer.json`` and ``.png``.

    .venv/bin/python benchmarks/bench_agg_writer.py [--cards 2000,10000] [--put-items 2000] [--out FILE.json]
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import LoadSpan, Machine, figure, grouped_bars, parser, write_report
from bench_featurestore import store_engines


def card(i: int) -> str:
    return f"4{i:015d}"


def records(n: int, minute: int, older_every: int = 0) -> list[dict]:
    """One cc-agg record per card at ``minute`` (every ``older_every``-th card one minute before the last run)."""
    out = []
    for i in range(n):
        m = minute - 2 if older_every and i % older_every == 0 else minute
        out.append(
            {
                "cc_num": card(i),
                "tid": f"t{i}-{m}",
                "trans_time": f"2020-03-02T{10 + m // 60:02d}:{m % 60:02d}:00.000Z",
                "num_trans_last_10m": 1 + i % 6,
                "avg_amt_last_10m": 1.5 * (i % 400),
                "max_amt_last_10m": 2.0 * (i % 400),
            }
        )
    return out


def timed_put(store, recs: list[dict], method: str) -> dict:
    from fraudstream.featurestore.groups import STREAM_GROUP

    t0 = time.perf_counter()
    outcomes = store.put_many(STREAM_GROUP, recs, method=method)
    seconds = time.perf_counter() - t0
    statuses = Counter(o.status for o in outcomes)
    return {
        "items": len(recs),
        "seconds": round(seconds, 3),
        "items_per_second": round(len(recs) / seconds, 1),
        "written": statuses["written"],
        "skipped": statuses["skipped"],
        "failed": statuses["failed"],
    }


def main() -> None:
    cli = parser(__doc__, "agg_writer.json")
    cli.add_argument("--cards", default="2000,10000", help="distinct cards per batch, comma-separated")
    cli.add_argument("--put-items", type=int, default=2_000, help="records per single-put run")
    cli.add_argument("--workers", default="1,2,4,8", help="transactions in flight, comma-separated")
    cli.add_argument("--warmup", type=int, default=5_000, help="items written before timing (JIT warm-up)")
    args = cli.parse_args()

    from fraudstream.aws_clients import dynamodb_client
    from fraudstream.featurestore import dynamodb_store
    from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore, store_client
    from fraudstream.featurestore.groups import STREAM_GROUP

    machine = Machine()
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-aggw-") as tmp, store_engines(Path(tmp), ["dynamodb"]) as settings:
        minute = 0
        scratch = DynamoFeatureStore(settings)
        if args.warmup:
            t0 = time.perf_counter()
            for m in (1, 2):
                scratch.put_many(STREAM_GROUP, records(args.warmup, m), method="transact")
            scratch.put_many(STREAM_GROUP, records(args.warmup // 5, 3), method="put")
            print(f"warm-up: {time.perf_counter() - t0:.1f} s", flush=True)
        for n in (int(c) for c in args.cards.split(",")):
            settings_n = settings.model_copy(update={"table_agg": f"{settings.table_agg}-{n}"})
            from fraudstream.featurestore.groups import ensure_tables

            ensure_tables(settings_n)
            variants: list[tuple[str, dict, object]] = [
                ("put, 8 threads, pool 10", {"PUT_WORKERS": 8}, lambda s: dynamodb_client(s)),
                ("put, 32 threads, pool 32", {"PUT_WORKERS": 32}, store_client),
                *(
                    (f"transact, {w} in flight", {"TRANSACT_WORKERS": w}, store_client)
                    for w in (int(x) for x in args.workers.split(","))
                ),
            ]
            for label, constants, make_client in variants:
                saved = {k: getattr(dynamodb_store, k) for k in constants}
                for k, v in constants.items():
                    setattr(dynamodb_store, k, v)
                try:
                    store = DynamoFeatureStore(settings_n, client=make_client(settings_n))
                    method = "transact" if label.startswith("transact") else "put"
                    minute += 3
                    batch = records(n, minute)
                    if method == "put":
                        batch = batch[: args.put_items]
                    load = LoadSpan()
                    run = {"cards": n, "design": label, "case": "all newer", **timed_put(store, batch, method)}
                    run |= load.keys()
                    runs.append(run)
                    print(json.dumps(run), flush=True)
                    if method == "transact":
                        minute += 3
                        timed_put(store, records(n, minute), method)  # the state the conflicting batch meets
                        conflict = records(n, minute + 1, older_every=2)  # even cards: older → skipped
                        load = LoadSpan()
                        run = {"cards": n, "design": label, "case": "half older", **timed_put(store, conflict, method)}
                        run |= load.keys()
                        runs.append(run)
                        print(json.dumps(run), flush=True)
                finally:
                    for k, v in saved.items():
                        setattr(dynamodb_store, k, v)
            with_suppress_delete(settings_n)
    doc = {
        "benchmark": "agg_writer_store_writes",
        "setup": "DynamoDB Local (engine of the local stack, -dbPath on disk), one process, boto3, one host",
        "runs": runs,
        "machine": machine.block(),
    }
    write_report(args.out, doc, plot=lambda png: plot(runs, png))
    print(json.dumps(doc, indent=2))


def with_suppress_delete(settings) -> None:
    import contextlib

    from fraudstream.aws_clients import dynamodb_client

    with contextlib.suppress(Exception):
        dynamodb_client(settings).delete_table(TableName=settings.table_agg)


def plot(runs: list[dict], path: Path) -> None:
    newer = {(r["design"], r["cards"]): r["items_per_second"] for r in runs if r["case"] == "all newer"}
    designs = list(dict.fromkeys(d for d, _ in newer))
    cards = sorted({n for _, n in newer})
    with figure(path, figsize=(8, 4.5)) as (_, ax):
        grouped_bars(ax, designs, {f"{n:,} cards": [newer.get((d, n), 0) for d in designs] for n in cards})
        ax.tick_params(axis="x", labelrotation=12, labelsize=8)
        ax.set_ylabel("conditional puts / s")
        ax.set_title("agg-writer writes into DynamoDB Local (newer-wins conditional puts)")
        ax.legend()


if __name__ == "__main__":
    main()
