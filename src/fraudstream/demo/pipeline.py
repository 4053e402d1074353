"""``fraudstream demo``: bring the whole system to life on the local stack and show it working.

stack up → generate (skipped when the file exists) → nightly batch for the latest day + training
set (reused when up to date) → train (reused when a model of that training set exists) → serve →
Flink job → both handler runners → a live slice of traffic re-timed to now → the seed article's
attack replayed → a summary (JSON + PNG in ``reports/``). The stack and services stay up for
exploration unless ``down`` is set.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fraudstream.batch.scope import FULL, BatchScope
from fraudstream.demo.stages import DemoError, StageLog, StageRecord, run_cli
from fraudstream.settings import Settings
from fraudstream.waiting import wait_until

STAGES = (
    "stack up",
    "generate data",
    "nightly batch + training set",
    "train",
    "serve the model",
    "Flink job",
    "handler runners",
    "live traffic",
    "replay: seed-article",
    "lake → nightly",
    "summary",
)
DEFAULT_DATA = Path("data/transactions.parquet")
DEFAULT_CARDS = 10_000
DEFAULT_TRANSACTIONS = 5_400_000


@dataclass
class DemoOptions:
    """What the demo runs on and how big it is."""

    cards: int = DEFAULT_CARDS
    transactions: int = DEFAULT_TRANSACTIONS
    data: Path | None = None  # default: data/transactions.parquet (or a size-specific name)
    training_dir: Path | None = None  # default: data/training-set[-size]
    live: int = 20_000  # transactions in the live slice
    rate: float = 500.0  # live slice send rate (transactions/s)
    timeout_s: float = 120.0  # wait for predictions after the last send
    reports: Path = Path("reports")
    down: bool = False
    retrain: bool = False
    feature_sets: tuple[str, ...] = ("extended",)  # the served set; add "anchor" for the article's 4 inputs
    seed: int = 123
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_default_size(self) -> bool:
        return self.cards == DEFAULT_CARDS and self.transactions == DEFAULT_TRANSACTIONS

    def data_path(self) -> Path:
        if self.data is not None:
            return self.data
        return (
            DEFAULT_DATA
            if self.is_default_size
            else Path(f"data/transactions-{self.cards}c-{self.transactions}t.parquet")
        )

    def training_path(self) -> Path:
        if self.training_dir is not None:
            return self.training_dir
        stem = self.data_path().stem
        name = stem.replace("transactions", "training-set") if "transactions" in stem else f"{stem}-training-set"
        return self.data_path().parent / name


# --------------------------------------------------------------------------------------------
# helpers that decide whether a stage's output can be reused
# --------------------------------------------------------------------------------------------
def file_fingerprint(path: Path) -> str:
    """Cheap identity of a data file or directory: size and mtime (not a content hash)."""
    stat = path.stat()
    return hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]


def stamp_path(settings: Settings, name: str) -> Path:
    return Path(settings.state_dir) / "demo" / f"{name}.json"


def read_stamp(settings: Settings, name: str) -> dict[str, Any] | None:
    try:
        return json.loads(stamp_path(settings, name).read_text())
    except (OSError, ValueError):
        return None


def write_stamp(settings: Settings, name: str, content: dict[str, Any]) -> None:
    path = stamp_path(settings, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2, default=str))


def last_day(data: Path) -> date:
    """The UTC day of the newest transaction in the data file (the nightly run's ``as_of``)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    newest = pc.max(pq.read_table(data, columns=["trans_time"]).column("trans_time")).as_py()
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    return newest.astimezone(UTC).date()


def stamp_covers(stamp: dict[str, Any] | None, fingerprint: str, scope: BatchScope) -> bool:
    """Whether a stage's stamp is of this data and its run held all that ``scope`` needs."""
    return (
        stamp is not None
        and stamp.get("data") == fingerprint
        and BatchScope.from_dict(stamp.get("scope")).covers(scope)
    )


def nightly_loaded(settings: Settings, data: Path, as_of: date, scope: BatchScope = FULL) -> bool:
    """True when the online store already holds this data's nightly run for ``as_of`` with every group
    ``scope`` needs (probed on a few cards)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
    from fraudstream.featurestore.groups import BATCH_GROUP
    from fraudstream.tokenise import tokenise

    stamp = read_stamp(settings, "nightly")
    if not stamp or not stamp_covers(stamp, file_fingerprint(data), scope) or stamp.get("as_of") != as_of.isoformat():
        return False
    table = pq.read_table(data, columns=["cc_num", "trans_time"])
    start = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) - timedelta(days=7)
    recent = table.filter(pc.greater_equal(table.column("trans_time"), start)).column("cc_num").to_pylist()[-3:]
    store = DynamoFeatureStore(settings)
    for cc_num in recent:
        record = store.get_record(BATCH_GROUP, tokenise(cc_num))  # the file holds raw numbers, the store tokens
        if not record or not str(record.get("as_of", "")).startswith(as_of.isoformat()):
            return False
    return bool(recent)


# --------------------------------------------------------------------------------------------
# the demo
# --------------------------------------------------------------------------------------------
@dataclass
class DemoResult:
    stages: list[StageRecord]
    live: dict[str, Any] | None = None  # empty when the slice was skipped
    seed: dict[str, Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    report_json: Path | None = None
    report_png: Path | None = None


def run_demo(options: DemoOptions, settings: Settings, console: Any) -> DemoResult:
    """Run every stage; raises DemoError with the failing stage's message."""
    log = StageLog(console, total=len(STAGES))
    result = DemoResult(stages=log.records)
    data = options.data_path()
    training = options.training_path()
    began = time.perf_counter()
    try:
        _stack_up(log, settings, console)
        _generate(log, options, data, settings, console)
        as_of = _batch(log, options, data, training, settings, console)
        trained = _train(log, options, training, settings, console)
        _serve(log, settings, restart=trained, console=console)
        _flink(log, settings, console)
        _handlers(log, settings, restart=trained)
        result.live = _live(log, options, data, settings, console)
        result.seed = _seed_replay(log, options, settings, console)
        _lake_nightly(log, settings, console)
        result.info = _info(settings, options, data, as_of)
        with log.stage("summary") as rec:
            from fraudstream.demo.summary import write_demo_report

            result.info["total_seconds"] = round(time.perf_counter() - began, 1)
            result.report_json, result.report_png = write_demo_report(result, options.reports)
            rec.detail = f"{result.report_json} and {result.report_png}"
    finally:
        if options.down:
            _down(settings, console)
    return result


def _stack_up(log: StageLog, settings: Settings, console: Any) -> None:
    from fraudstream.stack.manager import Stack

    with log.stage("stack up") as rec, console.status("starting Kafka, DynamoDB Local and Flink...") as status:
        up = Stack(settings, report=lambda message: status.update(message)).up()
        rec.status = "reused" if up.was_noop else "done"
        rec.detail = "already running" if up.was_noop else f"started {', '.join(up.started)}"


def _generate(log: StageLog, options: DemoOptions, data: Path, settings: Settings, console: Any) -> None:
    with log.stage("generate data") as rec:
        if data.exists():
            rec.status, rec.detail = "reused", f"{data} exists"
            return
        run_cli(
            ["generate", "--out", str(data), "--cards", str(options.cards), "--transactions",
             str(options.transactions), "--seed", str(options.seed)],
            settings, console,
        )  # fmt: skip
        rec.detail = str(data)


def _batch(log: StageLog, options: DemoOptions, data: Path, training: Path, settings: Settings, console: Any) -> date:
    with log.stage("nightly batch + training set") as rec:
        as_of = last_day(data)
        fingerprint = file_fingerprint(data)
        scope = BatchScope.for_feature_sets(options.feature_sets)  # what the demo's model reads, no more
        need_nightly = not nightly_loaded(settings, data, as_of, scope)
        stamp = read_stamp(settings, "training-set")
        need_training = not (training.exists() and stamp_covers(stamp, fingerprint, scope))
        if not need_nightly and not need_training:
            rec.status, rec.detail = "reused", f"store holds as_of {as_of}; {training} is up to date"
            return as_of
        from fraudstream.batch.spark_session import get_spark

        with console.status("starting Spark..."):
            spark = get_spark()
        try:
            rec.detail = "; ".join(_nightly_and_training(spark, data, training, as_of, fingerprint, settings, console,
                                                         need_nightly, need_training, scope))  # fmt: skip
        finally:
            spark.stop()
        return as_of


def _nightly_and_training(
    spark: Any,
    data: Path,
    training: Path,
    as_of: date,
    fingerprint: str,
    settings: Settings,
    console: Any,
    need_nightly: bool,
    need_training: bool,
    scope: BatchScope = FULL,
) -> list[str]:
    """The nightly run and the training set on one SparkSession, at the same time when both are due:
    the nightly's DynamoDB load is mostly waiting on the store, which the training set's Spark jobs
    fill (the training set prints no spinner then: the load's progress bar is the one live display).
    Both compute what ``scope`` holds (the demo's feature sets): the groups and columns it reads, with
    the values of the full runs (``tests/batch/test_demo_batch_stage.py``)."""
    from concurrent.futures import ThreadPoolExecutor

    scoped = {} if scope == FULL else {"scope": scope.to_dict()}

    def nightly() -> str:
        from fraudstream.batch.nightly import run_nightly
        from fraudstream.featurestore.groups import BATCH_GROUP

        tables = ", ".join(g.table_name(settings) for g in (BATCH_GROUP, *scope.groups))
        console.print(f"nightly run as of {as_of} (into {tables})")
        summary = run_nightly(spark, str(data), as_of, settings, scope=scope)
        write_stamp(settings, "nightly", {"data": fingerprint, "as_of": as_of.isoformat(), **scoped})
        return f"nightly {as_of}: {summary.get('cards', '?')} cards"

    def training_set() -> str:
        from fraudstream.batch.training_set import build_training_set

        console.print(f"training set → {training}")
        summary = build_training_set(spark, str(data), str(training), scope=scope)
        write_stamp(settings, "training-set", {"data": fingerprint, "rows": summary.get("rows_out"), **scoped})
        return f"training set: {summary.get('rows_out', summary.get('rows', '?'))} rows"

    if not need_nightly:
        with console.status("computing the point-in-time training set (Spark)..."):
            return [training_set()]
    if not need_training:
        return [nightly()]
    with ThreadPoolExecutor(1, thread_name_prefix="demo-nightly") as pool:
        running = pool.submit(nightly)
        built = training_set()
        return [running.result(), built]


def _train(log: StageLog, options: DemoOptions, training: Path, settings: Settings, console: Any) -> bool:
    """Train unless a model of this training set exists; True when a new model was trained."""
    from fraudstream.model.registry import latest_version

    with log.stage("train") as rec:
        fingerprint = file_fingerprint(training)
        stamp = read_stamp(settings, "model")
        current = latest_version(settings.model_dir)
        if (
            not options.retrain
            and current
            and stamp
            and stamp.get("training") == fingerprint
            and stamp.get("version") == current
            and stamp.get("feature_sets") == list(options.feature_sets)
        ):
            rec.status, rec.detail = "reused", f"model {current}"
            return False
        args = ["train", "--training-set", str(training), "--model-dir", str(settings.model_dir)]
        for feature_set in options.feature_sets:
            args += ["--feature-set", feature_set]
        run_cli(args, settings, console)
        version = latest_version(settings.model_dir)
        write_stamp(
            settings, "model", {"training": fingerprint, "version": version, "feature_sets": list(options.feature_sets)}
        )
        rec.detail = f"model {version}"
        return True


def _serve(log: StageLog, settings: Settings, restart: bool, console: Any) -> None:
    from fraudstream.demo.services import endpoint_process

    with log.stage("serve the model") as rec:
        proc = endpoint_process(settings)
        if restart:
            proc.stop()
        reused = proc.running_pid() is not None
        proc.start()
        with console.status(f"waiting for {settings.endpoint_url}/ping..."):
            proc.wait_ready(timeout=120)
        rec.status = "reused" if reused else "done"
        rec.detail = f"{settings.endpoint_url} (pid {proc.running_pid()}, log {proc.log_file})"


def _flink(log: StageLog, settings: Settings, console: Any) -> None:
    """The cc-agg job of these settings, found by its name: submitted (or reused) and waited for until
    every task runs (a reused job may still be restarting)."""
    from fraudstream.streaming.rest import FlinkRest, FlinkRestError
    from fraudstream.streaming.submit import SubmitError, submit_job

    with log.stage("Flink job") as rec:
        console.print("[dim]$ fraudstream flink submit[/]")
        try:
            with console.status(f"submitting the cc-agg job to {settings.flink_rest} ..."):
                job_id = submit_job(settings)
                with FlinkRest(settings.flink_rest) as rest:
                    rest.wait_until_all_tasks_running(job_id)
        except (SubmitError, FlinkRestError) as exc:
            raise DemoError(f"the Flink job is not running ({exc}); see `fraudstream flink status`") from None
        rec.detail = f"job {job_id} RUNNING"


def _handlers(log: StageLog, settings: Settings, restart: bool) -> None:
    from fraudstream.demo.services import HANDLERS, handler_process

    with log.stage("handler runners") as rec:
        procs = [handler_process(settings, name) for name in HANDLERS]
        reused = []
        for proc in procs:
            if restart and proc.name == "fraud-scorer":
                proc.stop()  # a new model may have a new threshold / feature set
            if proc.running_pid() is not None:
                reused.append(proc.name)
            proc.start()
        for proc in procs:
            proc.wait_ready(timeout=90)
        rec.status = "reused" if len(reused) == len(procs) else "done"
        rec.detail = ", ".join(f"{p.name} (pid {p.running_pid()})" for p in procs)
    from fraudstream.stack.supervisor import ensure_supervisor

    ensure_supervisor(settings)  # from here on a crashed engine or service restarts by itself


def _live(log: StageLog, options: DemoOptions, data: Path, settings: Settings, console: Any) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fraudstream.demo.live import fit_slice, plan_live_slice, read_tail
    from fraudstream.replay.report import build_rows, summarize
    from fraudstream.replay.runner import latest_event_time, run_plan

    with log.stage("live traffic") as rec:
        latest = latest_event_time(settings)
        frame, start = fit_slice(read_tail(data, options.live), datetime.now(UTC), latest)
        if len(frame) < options.live and latest is not None:
            console.print(
                f"[yellow]an earlier run already sent events up to {latest:%Y-%m-%d %H:%M:%S} UTC: the slice is "
                f"trimmed to the {len(frame):,} transactions that fit between then and now[/]"
            )
        if frame.empty:
            rec.status, rec.detail = "skipped", "no room before now; re-run later for a live slice"
            return {}
        span = frame["trans_time"].iloc[-1] - frame["trans_time"].iloc[0]
        plan = plan_live_slice(frame, start, options.rate)
        console.print(
            f"{len(plan.transactions):,} transactions ({span} of traffic, "
            f"{sum(t.role == 'attack' for t in plan.transactions)} fraud) re-timed to "
            f"{plan.transactions[0].event_time:%m-%d %H:%M:%S}..{plan.transactions[-1].event_time:%m-%d %H:%M:%S} UTC, "
            f"sent at {options.rate:,.0f}/s"
        )
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            sent_task = progress.add_task("sent", total=len(plan.transactions))
            pred_task = progress.add_task("predicted", total=len(plan.transactions))

            def update(sent: int, predicted: int, total: int) -> None:
                progress.update(sent_task, completed=sent)
                progress.update(pred_task, completed=predicted)

            outcomes, stats = run_plan(plan, settings, options.timeout_s, seed_history=False, progress=update)
        summary = summarize("live-traffic", build_rows(outcomes), stats)
        summary.extra.update({"span": str(span), "rate_per_s": options.rate, "run_id": plan.run_id})
        rec.detail = (
            f"{summary.predicted:,}/{summary.transactions:,} scored, {summary.throughput_per_s or 0:,.0f}/s, "
            f"p50 {summary.latency_ms_p50 or 0:,.0f} ms, p99 {summary.latency_ms_p99 or 0:,.0f} ms"
        )
        if summary.missing:
            console.print(
                f"[yellow]{summary.missing} live transactions got no prediction within {options.timeout_s:.0f} s[/]"
            )
        return asdict(summary)


def _lake_nightly(log: StageLog, settings: Settings, console: Any, wait_s: float = 60.0) -> None:
    """Close the loop: the live traffic the archiver wrote to the lake → a nightly run on it → the store."""
    from fraudstream.lake.layout import TRANSACTIONS, day_dir

    with log.stage("lake → nightly") as rec:
        if not settings.lake_archiver_enabled:
            rec.status, rec.detail = "skipped", "the lake archiver is off (FRAUDSTREAM_LAKE_ARCHIVER_ENABLED)"
            return
        today = datetime.now(UTC).date()
        folder = Path(day_dir(str(settings.lake_dir), TRANSACTIONS, today))
        timeout = max(wait_s, 2 * settings.lake_flush_interval_s)
        try:
            with console.status(f"waiting for the archiver to write {folder}..."):
                wait_until(lambda: list(folder.glob("*.parquet")), timeout, f"Parquet files in {folder}", interval=1.0)
        except TimeoutError:
            raise DemoError(
                f"the lake archiver wrote nothing to {folder} (see .fraudstream/logs/lake-archiver.log)"
            ) from None
        as_of = today + timedelta(days=1)  # the run after today's traffic: its week ends at tomorrow's midnight
        run_cli(["batch", "nightly", "--as-of", as_of.isoformat()], settings, console)
        rec.detail = f"live traffic in {folder} → nightly {as_of} → {settings.table_batch}"


def _seed_replay(log: StageLog, options: DemoOptions, settings: Settings, console: Any) -> dict[str, Any]:
    from fraudstream.replay.report import render_table
    from fraudstream.replay.scenarios import builtin_scenario
    from fraudstream.replay.service import replay_scenario

    with log.stage("replay: seed-article") as rec:
        scenario = builtin_scenario("seed-article")
        with console.status("sending the attack in real time and waiting for the verdicts..."):
            result = replay_scenario(scenario, settings, timeout_s=options.timeout_s)
        render_table(result.summary, result.rows, console)
        json_path, png_path = result.write(options.reports / "replay-seed-article.json")
        s = result.summary
        rec.detail = (
            f"flagged {s.attack_flagged}/{s.attack_transactions}, "
            f"false positives {s.false_positives}/{s.normal_transactions}"
        )
        return {**result.to_dict(), "report_json": str(json_path), "report_png": str(png_path)}


def _info(settings: Settings, options: DemoOptions, data: Path, as_of: date) -> dict[str, Any]:
    from fraudstream.model.registry import load_metadata

    meta = load_metadata(settings.model_dir)
    return {
        "data": str(data),
        "cards": options.cards,
        "transactions": options.transactions,
        "nightly_as_of": as_of.isoformat(),
        "model": {"version": meta.version, "feature_set": meta.feature_set, "threshold": meta.threshold},
        "endpoint_url": settings.endpoint_url,
        "kafka": settings.kafka_bootstrap,
        "flink_rest": settings.flink_rest,
        "dynamodb": settings.aws_endpoint_url,
    }


def _down(settings: Settings, console: Any) -> None:
    from fraudstream.demo.services import stop_all

    console.rule("[bold]--down: stopping services and the stack")
    console.print(f"stopped {', '.join(stop_all(settings)) or 'nothing'}")
