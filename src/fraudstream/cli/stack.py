"""CLI commands: ``fraudstream stack up|down|status`` for the local engines (Kafka, DynamoDB Local, Flink)."""

from __future__ import annotations

import typer

ONLY_HELP = "Comma-separated subset of kafka,dynamodb,flink (default: all)."


def _fail(message: str) -> None:
    """One clear line on stderr and exit 1: the user's problem, not a traceback."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _start_handlers(console) -> None:
    """Start (or reuse) both handler runners as managed background processes."""
    from fraudstream.demo.services import HANDLERS, handler_process
    from fraudstream.settings import get_settings

    procs = [handler_process(get_settings(), name) for name in HANDLERS]
    for proc in procs:
        proc.start()  # a no-op for a runner that is already running
    for proc in procs:
        proc.wait_ready(timeout=90)
        console.print(f"handler runner {proc.name}: ready (pid {proc.running_pid()}, log {proc.log_file})")


def _stop_services() -> list[str]:
    """Stop the background services started next to the engines (endpoint, handler runners)."""
    from fraudstream.demo.services import demo_processes
    from fraudstream.settings import get_settings

    return [proc.name for proc in reversed(demo_processes(get_settings())) if proc.stop()]


def _status_table(stack, only: str | None):
    from rich.table import Table

    from fraudstream.demo.services import demo_processes
    from fraudstream.stack.manager import ServiceStatus
    from fraudstream.stack.supervisor import read_health, supervisor_process

    colours = {"ready": "green", "starting": "yellow", "stopped": "dim", "crashed": "red", "external": "cyan"}
    table = Table(title=f"fraudstream stack ({stack.settings.state_dir})")
    for column in ("service", "address", "pid", "state", "restarts", "last exit"):
        table.add_column(column)
    health = read_health(stack.settings)
    rows = list(stack.status(only))
    extra = [supervisor_process(stack.settings), *demo_processes(stack.settings)]
    rows += [ServiceStatus(p.name, p.address, p.running_pid(), p.state()) for p in extra if p.pid_file.exists()]
    for row in rows:
        colour = colours.get(row.state, "white")
        h = health.get(row.name)
        restarts, last_exit = (str(h.restarts), h.last_exit) if h else ("-", "")
        state = f"[{colour}]{row.state}[/{colour}]"
        table.add_row(row.name, row.address, str(row.pid or "-"), state, restarts, last_exit)
    return table


def register(app: typer.Typer) -> None:
    """Add the ``stack`` command group to the main app."""
    stack_app = typer.Typer(help="Run the local engines (Kafka KRaft, DynamoDB Local, Flink) as background processes.")
    app.add_typer(stack_app, name="stack")

    @stack_app.command("up")
    def up(
        only: str | None = typer.Option(None, "--only", help=ONLY_HELP),
        fresh: bool = typer.Option(False, "--fresh", help="Wipe Kafka, DynamoDB and Flink checkpoint data first."),
        with_handlers: bool = typer.Option(
            False, "--with-handlers", help="Also run the agg-writer and fraud-scorer handler runners in the background."
        ),
        supervise: bool = typer.Option(
            True, "--supervise/--no-supervise", help="Run the supervisor that restarts crashed processes with backoff."
        ),
    ) -> None:
        """Start the engines, wait until each is really ready, create the topics and tables."""
        from rich.console import Console

        from fraudstream.stack import StackError
        from fraudstream.stack.manager import Stack

        console = Console()
        try:
            with console.status("starting the stack") as spinner:
                stack = Stack(report=lambda message: spinner.update(message))
                result = stack.up(only=only, fresh=fresh)
        except StackError as exc:
            _fail(str(exc))
        if result.was_noop:
            console.print("stack already up: nothing to start")
        else:
            console.print(f"started {', '.join(result.started)} in {result.seconds:.1f}s")
        if result.external:
            console.print(f"external (not started): {', '.join(result.external)}")
        if result.topics_created:
            console.print(f"topics created: {', '.join(result.topics_created)}")
        if result.tables_created:
            console.print(f"tables created: {', '.join(result.tables_created)}")
        if with_handlers:
            _start_handlers(console)
        if supervise:
            from fraudstream.stack.supervisor import ensure_supervisor

            if ensure_supervisor(stack.settings):
                console.print("supervisor started: crashed engines and services restart with backoff")
        console.print(_status_table(stack, only))

    @stack_app.command("down")
    def down(
        only: str | None = typer.Option(None, "--only", help=ONLY_HELP),
        all_: bool = typer.Option(
            True, "--all/--engines-only", help="Also stop the endpoint and handler runners (default; not with --only)."
        ),
    ) -> None:
        """Stop the supervisor, the services and the engines this stack started (by pid file); data is kept."""
        from fraudstream.settings import get_settings
        from fraudstream.stack import StackError
        from fraudstream.stack.manager import Stack
        from fraudstream.stack.supervisor import stop_supervisor

        try:
            if stop_supervisor(get_settings()):  # first, so it restarts nothing that is being stopped
                typer.echo("stopped supervisor")
            stopped = _stop_services() if all_ and not only else []
            stopped += Stack().down(only)
        except StackError as exc:
            _fail(str(exc))
        typer.echo(f"stopped {', '.join(stopped)}" if stopped else "stack already down: nothing to stop")

    @stack_app.command("supervise")
    def supervise_cmd(
        interval: float = typer.Option(0.5, "--interval", min=0.05, help="Seconds between checks."),
    ) -> None:
        """Run the restart loop in the foreground (``stack up`` starts it in the background)."""
        from fraudstream.settings import get_settings
        from fraudstream.stack.supervisor import Supervisor

        Supervisor(get_settings(), interval=interval).run()

    @stack_app.command("status")
    def status(only: str | None = typer.Option(None, "--only", help=ONLY_HELP)) -> None:
        """Show each service: address, pid and state (ready, starting, stopped, crashed, external)."""
        from rich.console import Console

        from fraudstream.stack import StackError
        from fraudstream.stack.manager import Stack

        try:
            table = _status_table(Stack(), only)
        except StackError as exc:
            _fail(str(exc))
        Console().print(table)
