"""The local stack as one object: ``Stack(settings).up()``, ``.down()``, ``.status()``.

Engines start concurrently (they are independent; Flink's TaskManager retries until the
JobManager answers), then each is waited on until really ready, then the topics and tables of
DESIGN.md are created. An engine whose address is overridden in the settings (e.g.
``FRAUDSTREAM_KAFKA_BOOTSTRAP``) is external: not started, but still provisioned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType

from fraudstream.settings import Settings, get_settings
from fraudstream.stack import dynamodb, flink, kafka
from fraudstream.stack.clock import clock_process
from fraudstream.stack.errors import StackError
from fraudstream.stack.lake import archiver_process
from fraudstream.stack.monitor import monitor_process
from fraudstream.stack.ports import wait_closed
from fraudstream.stack.process import ManagedProcess
from fraudstream.waiting import wait_until

ENGINES: dict[str, ModuleType] = {"kafka": kafka, "dynamodb": dynamodb, "flink": flink}
READY_TIMEOUT_S = {"kafka": 120.0, "dynamodb": 90.0, "flink": 180.0}


@dataclass(frozen=True)
class ServiceStatus:
    """One row of ``stack status``."""

    name: str
    address: str
    pid: int | None
    state: str  # ready | starting | stopped | crashed | external


@dataclass
class UpResult:
    """What ``up`` did: which processes it started, which were already running, which are external."""

    started: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    topics_created: list[str] = field(default_factory=list)
    tables_created: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def was_noop(self) -> bool:
        return not self.started


def parse_only(only: str | Iterable[str] | None) -> list[str]:
    """``"kafka,flink"`` -> ``["kafka", "flink"]`` in start order; None means every engine."""
    if only is None:
        return list(ENGINES)
    names = [n.strip().lower() for n in (only.split(",") if isinstance(only, str) else only) if n.strip()]
    unknown = sorted(set(names) - set(ENGINES))
    if unknown:
        raise StackError(f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(ENGINES)}")
    return [n for n in ENGINES if n in names]


class Stack:
    """Start, stop and inspect the local engines described by one ``Settings``."""

    def __init__(self, settings: Settings | None = None, report: Callable[[str], None] | None = None):
        self.settings = settings or get_settings()
        self.report = report or (lambda message: None)

    # ------------------------------------------------------------ engine selection
    def external_engines(self) -> set[str]:
        s = self.settings
        external = set()
        if s.kafka_bootstrap_override:
            external.add("kafka")
        if s.aws_endpoint_override is not None:
            external.add("dynamodb")
        if s.flink_rest_override:
            external.add("flink")
        return external

    def processes(self, engines: Iterable[str]) -> dict[str, list[ManagedProcess]]:
        return {name: ENGINES[name].processes(self.settings) for name in engines}

    # ------------------------------------------------------------ up
    def up(self, only: str | Iterable[str] | None = None, fresh: bool = False, provision: bool = True) -> UpResult:
        """Start the selected engines (no-op for those already running), wait until ready, create topics/tables."""
        t0 = time.monotonic()
        result = UpResult()
        selected = parse_only(only)
        result.external = [n for n in selected if n in self.external_engines()]
        local = [n for n in selected if n not in result.external]
        procs = self.processes(local)

        running = [p.name for ps in procs.values() for p in ps if p.running_pid() is not None]
        to_start = {n: [p for p in ps if p.running_pid() is None] for n, ps in procs.items()}
        to_start = {n: ps for n, ps in to_start.items() if ps}
        result.already_running = running
        if fresh and running:
            names = ", ".join(running)
            raise StackError(f"--fresh needs a stopped stack ({names} running); run `fraudstream stack down` first")

        for ps in to_start.values():  # fail before starting anything when a port is taken
            for proc in ps:
                proc.check_ports_free()

        started: list[ManagedProcess] = []
        try:
            for name, ps in to_start.items():
                self.report(f"preparing {name}")
                ENGINES[name].prepare(self.settings, fresh=fresh)
                for proc in ps:
                    proc.start()
                    started.append(proc)
                    self.report(f"started {proc.name} (pid {proc.running_pid()})")
            for name in to_start:
                for proc in procs[name]:
                    self.report(f"waiting for {proc.name}")
                    proc.wait_ready(timeout=READY_TIMEOUT_S[name])
            if "flink" in to_start:
                self._wait_flink_slot()
        except BaseException:
            for proc in reversed(started):
                proc.stop()
            raise
        result.started = [p.name for p in started]

        if provision:
            result.topics_created, result.tables_created = self.provision(selected)
            if "kafka" in selected and self.settings.clock_enabled:
                self._start_clock(result)
            if "kafka" in selected and self.settings.lake_archiver_enabled:
                self._start_background(archiver_process(self.settings), result)
            if "kafka" in selected and self.settings.clock_enabled:
                self._start_background(monitor_process(self.settings), result)
        result.seconds = time.monotonic() - t0
        return result

    def _start_clock(self, result: UpResult) -> None:
        """The stream clock, once the topics exist (no-op when it is already beating)."""
        proc = clock_process(self.settings)
        if proc.running_pid() is not None:
            result.already_running.append(proc.name)
            return
        self.report("starting the stream clock")
        proc.start()
        result.started.append(proc.name)
        proc.wait_ready(timeout=60)

    def _start_background(self, proc: ManagedProcess, result: UpResult) -> None:
        """A stack service that needs the topics (no-op when it is already running)."""
        if proc.running_pid() is not None:
            result.already_running.append(proc.name)
            return
        self.report(f"starting {proc.name}")
        proc.start()
        result.started.append(proc.name)
        proc.wait_ready(timeout=60)

    def _wait_flink_slot(self, timeout: float = 60.0) -> None:
        rest = f"http://{self.settings.host}:{self.settings.flink_rest_port}"

        def free_slot() -> bool:
            try:
                return flink.has_free_slot(rest)
            except OSError:
                return False

        try:
            wait_until(free_slot, timeout, f"a free task slot at {rest}", interval=0.25)
        except TimeoutError as exc:
            raise StackError(f"Flink at {rest} offers no free task slot after {timeout:.0f}s") from exc

    def provision(self, engines: Iterable[str]) -> tuple[list[str], list[str]]:
        """Create the topics and tables of DESIGN.md that are missing (idempotent)."""
        topics, tables = [], []
        engines = set(engines)
        if "kafka" in engines:
            from fraudstream.kafka_clients import ensure_topics

            self.report("creating topics")
            topics = ensure_topics(self.settings)
        if "dynamodb" in engines:
            from fraudstream.featurestore.groups import ensure_tables

            self.report("creating tables")
            tables = ensure_tables(self.settings)
        return topics, tables

    # ------------------------------------------------------------ down
    def down(self, only: str | Iterable[str] | None = None) -> list[str]:
        """Stop the processes this stack started (by pid file), last started first; returns their names."""
        selected = [n for n in parse_only(only) if n not in self.external_engines()]
        procs = [p for ps in self._known_processes(selected).values() for p in ps]
        stopped = []
        if "kafka" in parse_only(only):
            monitor = monitor_process(self.settings)
            if monitor.stop():
                stopped.append(monitor.name)
            archiver = archiver_process(self.settings)
            if archiver.stop():
                stopped.append(archiver.name)
            clock = clock_process(self.settings)
            if clock.stop():
                stopped.append(clock.name)
        for proc in reversed(procs):
            if proc.stop():
                stopped.append(proc.name)
        ports = [port for proc in procs for port in proc.ports]
        still_open = wait_closed(self.settings.host, ports)
        if still_open and stopped:
            raise StackError(f"ports still listening after stop: {', '.join(map(str, still_open))}")
        return stopped

    def _known_processes(self, engines: Iterable[str]) -> dict[str, list[ManagedProcess]]:
        """Process descriptions even when a component is missing (so ``down``/``status`` always work)."""
        out: dict[str, list[ManagedProcess]] = {}
        for name in engines:
            try:
                out[name] = ENGINES[name].processes(self.settings)
            except StackError:
                out[name] = [
                    ManagedProcess(name=pname, argv=[], run_dir=self.settings.state_dir.resolve())
                    for pname in _process_names(name)
                ]
        return out

    # ------------------------------------------------------------ status
    def status(self, only: str | Iterable[str] | None = None) -> list[ServiceStatus]:
        selected = parse_only(only)
        external = self.external_engines()
        rows = []
        for procs in self._known_processes([n for n in selected if n not in external]).values():
            for proc in procs:
                rows.append(ServiceStatus(proc.name, proc.address, proc.running_pid(), proc.state()))
        for name in selected:
            if name in external:
                rows.append(ServiceStatus(name, self._external_address(name), None, "external"))
        if "kafka" in selected and self.settings.clock_enabled:
            clock = clock_process(self.settings)
            rows.append(ServiceStatus(clock.name, clock.address, clock.running_pid(), clock.state()))
        if "kafka" in selected and self.settings.lake_archiver_enabled:
            lake = archiver_process(self.settings)
            rows.append(ServiceStatus(lake.name, lake.address, lake.running_pid(), lake.state()))
        if "kafka" in selected and self.settings.clock_enabled:
            monitor = monitor_process(self.settings)
            rows.append(ServiceStatus(monitor.name, monitor.address, monitor.running_pid(), monitor.state()))
        return rows

    def _external_address(self, name: str) -> str:
        s = self.settings
        return {"kafka": s.kafka_bootstrap, "dynamodb": str(s.aws_endpoint_url), "flink": s.flink_rest}[name]

    def all_ready(self, only: str | Iterable[str] | None = None) -> bool:
        return all(row.state in ("ready", "external") for row in self.status(only))


def _process_names(engine: str) -> list[str]:
    return {"kafka": [kafka.NAME], "dynamodb": [dynamodb.NAME], "flink": [flink.JOBMANAGER, flink.TASKMANAGER]}[engine]
