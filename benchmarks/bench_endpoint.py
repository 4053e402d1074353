"""Benchmark: the endpoint (one uvicorn worker) measured from this separate process over loopback.

Single-row CSV requests on keep-alive connections: latency p50/p99 with one client, and throughput
(requests/s) with 1 and 8 concurrent clients. Then large requests — a 10,000-row CSV batch (the row
cap), the same as JSON, and 6 MiB of empty CSV rows (the review's 1 M-row body) — each timed, with
``/ping`` sent back to back on another connection meanwhile (its p50/max latency shows whether the
event loop stayed free). Writes ``benchmarks/results/endpoint.json`` and ``endpoint.png``.

    .venv/bin/python benchmarks/bench_endpoint.py [--model-dir models] [--seconds 10] [--out FILE.json]
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import Machine, figure, parser, percentiles, write_report

from fraudstream.model import registry
from fraudstream.testing.models import start_endpoint, stop_endpoint

ROWS = {
    "anchor": "123.45,1.08,0.95,0.31",
    "extended": "123.45,1.08,0.95,0.31,2,1.6",
}


def _request(port: int, body: bytes) -> bytes:
    head = (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/csv\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _client(port: int, request: bytes, until: float, latencies: list[float], limit: int | None) -> None:
    """One keep-alive connection sending requests back to back (a minimal HTTP/1.1 client, cheap per call)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until and (limit is None or len(latencies) < limit):
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"endpoint answered {head[:40]!r}")
            length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


def _large_bodies(width: int) -> dict[str, tuple[bytes, str]]:
    rng = np.random.default_rng(5)
    rows = rng.uniform(0, 5, size=(10_000, width)).tolist()
    csv = ("\n".join(",".join(repr(v) for v in row) for row in rows) + "\n").encode()
    return {
        "csv_10k_rows": (csv, "text/csv"),
        "json_10k_rows": (json.dumps({"instances": rows}).encode(), "application/json"),
        "csv_6MiB_empty_rows": ((b"," * (width - 1) + b"\n") * (6 * 1024 * 1024 // width - 1024), "text/csv"),
    }


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1])
    return int(head.split(b" ", 2)[1]), await reader.readexactly(length)


async def _large_request(port: int, body: bytes, content_type: str, repeats: int = 3) -> dict:
    """Median time of ``repeats`` requests with ``body``, and /ping latency on another connection meanwhile."""
    request = (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    ping = f"GET /ping HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    durations: list[float] = []
    pings: list[float] = []
    status = 0
    for _ in range(repeats):
        p_reader, p_writer = await asyncio.open_connection("127.0.0.1", port)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        done = asyncio.Event()
        sent: list[tuple[float, float]] = []  # (start, latency) of each /ping

        async def pinger(p_reader=p_reader, p_writer=p_writer, done=done, sent=sent) -> None:
            while not done.is_set():
                started = time.perf_counter()
                p_writer.write(ping)
                await _read_response(p_reader)
                sent.append((started, time.perf_counter() - started))
                await asyncio.sleep(0.002)

        task = asyncio.create_task(pinger())
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        writer.write(request)
        status, _ = await _read_response(reader)
        finished = time.perf_counter()
        durations.append(finished - started)
        done.set()
        await task  # the /ping in flight finishes: when the loop was blocked, it is the slow one
        pings += [latency for begun, latency in sent if started <= begun < finished]
        writer.close()
        p_writer.close()
    ping = percentiles(np.array(pings) * 1000, (50,))
    return {
        "bytes": len(body),
        "status": status,
        "request_ms": round(float(np.median(durations)) * 1000, 1),
        "pings_during": ping["n"],
        "ping_p50_ms": ping["p50"],
        "ping_max_ms": ping["max"],
    }


def _plot(latencies_ms: np.ndarray, result: dict, path: Path) -> None:
    """Latency distribution of single-row requests and throughput per concurrency, one PNG."""
    with figure(path, 1, 3, figsize=(15, 4)) as (fig, (left, right, third)):
        ordered = np.sort(latencies_ms)
        left.plot(ordered, np.arange(1, ordered.size + 1) / ordered.size)
        figures = percentiles(ordered)
        for q, style in (("p50", "--"), ("p99", ":")):
            left.axvline(figures[q], linestyle=style, color="grey", label=f"{q} {figures[q]:.2f} ms")
        left.set(xscale="log", xlabel="latency (ms, log)", ylabel="share of requests", title="1 row, 1 client")
        left.legend()
        runs = [result["throughput_1_client"], result["throughput_8_clients"]]
        right.bar([f"{r['clients']} client(s)" for r in runs], [r["requests_per_s"] for r in runs], color="tab:blue")
        right.set(ylabel="requests / s", title="throughput, one uvicorn worker")
        large = result["large_requests"]
        names = list(large)
        x = np.arange(len(names))
        third.bar(x - 0.2, [large[n]["request_ms"] for n in names], 0.4, label="request (ms)", color="tab:orange")
        pings = [large[n]["ping_max_ms"] or 0 for n in names]  # None: no /ping was sent during the request
        third.bar(x + 0.2, pings, 0.4, label="slowest /ping meanwhile (ms)")
        third.axhline(50, linestyle=":", color="grey", label="50 ms")
        third.set_xticks(x, [f"{n}\n→ {large[n]['status']}" for n in names], fontsize=8)
        third.set(yscale="log", ylabel="ms (log)", title="large requests and /ping during them")
        third.legend(fontsize=8)
        fig.suptitle(f"endpoint {result['model_version']} (load avg {result['machine']['load_avg_1m_end']:.1f})")


async def _run(
    port: int, request: bytes, clients: int, seconds: float, limit: int | None = None, keep: list | None = None
) -> dict:
    latencies: list[float] = []
    began = time.perf_counter()
    until = began + seconds
    await asyncio.gather(*(_client(port, request, until, latencies, limit) for _ in range(clients)))
    elapsed = time.perf_counter() - began
    lat = np.array(latencies) * 1000
    if keep is not None:
        keep.extend(lat.tolist())
    figures = percentiles(lat, suffix="_ms", digits=3)
    return {
        "clients": clients,
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": figures["p50_ms"],
        "p99_ms": figures["p99_ms"],
    }


def main() -> None:
    cli = parser(__doc__, "endpoint.json")
    cli.add_argument("--model-dir", type=Path, default=Path("models"))
    cli.add_argument("--model", default="latest")
    cli.add_argument("--seconds", type=float, default=10.0)
    args = cli.parse_args()

    meta = registry.load_metadata(args.model_dir, args.model)
    machine = Machine()
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_endpoint(args.model_dir, Path(tmp) / "serve.log", meta.version)
        try:
            port = int(url.rsplit(":", 1)[1])
            request = _request(port, (ROWS[meta.feature_set] + "\n").encode())
            asyncio.run(_run(port, request, 1, 2.0))  # warm-up
            samples: list[float] = []
            latency = asyncio.run(_run(port, request, 1, args.seconds * 3, limit=5000, keep=samples))
            single = asyncio.run(_run(port, request, 1, args.seconds))
            eight = asyncio.run(_run(port, request, 8, args.seconds))
            large = {
                name: asyncio.run(_large_request(port, body, kind))
                for name, (body, kind) in _large_bodies(len(meta.feature_names)).items()
            }
        finally:
            stop_endpoint(process)
    result = {
        "benchmark": "endpoint",
        "model_version": meta.version,
        "feature_set": meta.feature_set,
        "request": "POST /invocations text/csv, 1 row, keep-alive, loopback, 1 uvicorn worker",
        "latency_one_row": {"requests": latency["requests"], "p50_ms": latency["p50_ms"], "p99_ms": latency["p99_ms"]},
        "throughput_1_client": single,
        "throughput_8_clients": eight,
        "large_requests": large,
        "machine": machine.block(),
    }
    write_report(args.out, result, plot=lambda png: _plot(np.array(samples), result, png))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
