"""HMA matching as a service: lookups/s with 1 and 2 matcher processes, and how soon a curator's new hash
is matched by every matcher.

Usage: .venv/bin/python bench/matcher_scale.py [--bank-size 100000] [--seconds 15] [--rounds 3]
                                               [--connections 32] [--adds 20]

Builds a throwaway encrypted data directory with one bank of ``--bank-size`` random PDQ hashes, then
starts real `ncii-shield serve --roles …` processes on loopback: one curator and two matchers (each
matcher loads the persisted bank index at start). Load: ``--connections`` keep-alive HTTP/1.1
connections issuing `GET /m/lookup` back to back (half near a banked hash, must match; half random, must
not), spread round-robin over the matchers in use, as a load balancer would. Rounds alternate 1 and 2
matchers so both see the same machine load; medians are printed with each matcher's CPU per lookup (read
from /proc), which is what sizes a cluster when the machine, not the design, is the limit.

The load generator is a few raw asyncio sockets with pre-built requests (~20 µs of CPU a request), so
the client takes as little of this 2-core machine as possible. Then: ``--adds`` times, a hash is added
through the curator and both matchers are polled (every 20 ms) until it matches; prints the median and
the worst delay (the issue asks < 10 s; HMA's own target is 10 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_load import CLI, flip, free_port, prepare


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serving(env: dict[str, str], roles: str) -> Iterator[tuple[str, int]]:
    """`ncii-shield serve --roles ROLES` until /status answers I-AM-ALIVE (a matcher: index loaded)."""
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--roles", roles], env=env, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            try:
                if httpx.get(base + "/status", timeout=5).text == "I-AM-ALIVE":
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise SystemExit(f"serve --roles {roles} stopped: {server.stderr.read().decode()}")  # type: ignore[union-attr]
            time.sleep(0.1)
        yield base, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def request_bytes(port: int, token: str, signal: str) -> bytes:
    return (
        f"GET /m/lookup?signal_type=pdq&signal={signal} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode()


async def connection(
    port: int,
    requests: list[tuple[bytes, bool]],
    start: int,
    stop: float,
    out: list[tuple[float, bool, bool]],
) -> None:
    """One keep-alive connection: send, read the whole answer, check it, again until `stop`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = start
    try:
        while time.perf_counter() < stop:
            data, should_match = requests[i % len(requests)]
            i += 1
            t0 = time.perf_counter()
            writer.write(data)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            body = await reader.readexactly(length)
            matched = status == 200 and body not in (b"{}", b"")
            out.append((time.perf_counter() - t0, status == 200, matched == should_match))
    finally:
        writer.close()


def load(
    matchers: list[tuple[str, int]],
    token: str,
    queries: list[tuple[str, bool]],
    seconds: float,
    connections: int,
) -> dict[str, float]:
    """Lookups/s over `seconds` with `connections` spread round-robin over the matchers."""
    ports = [int(base.rsplit(":", 1)[1]) for base, _ in matchers]
    per_port = {p: [(request_bytes(p, token, s), m) for s, m in queries] for p in ports}
    results: list[tuple[float, bool, bool]] = []
    cpu0 = [cpu_seconds(pid) for _, pid in matchers]

    async def run() -> float:
        stop = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(
                connection(ports[c % len(ports)], per_port[ports[c % len(ports)]], c * 97, stop, results)
                for c in range(connections)
            )
        )
        return time.perf_counter() - started

    wall = asyncio.run(run())
    cpu = sum(cpu_seconds(pid) - c for (_, pid), c in zip(matchers, cpu0, strict=True))
    latencies = sorted(r[0] for r in results)
    return {
        "lookups_per_s": len(results) / wall,
        "errors": sum(1 for r in results if not r[1]),
        "wrong": sum(1 for r in results if r[1] and not r[2]),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "matcher_cpu_ms_per_lookup": 1000 * cpu / max(1, len(results)),
    }


def propagation(curator: str, matchers: list[str], token: str, adds: int, rng: random.Random) -> list[float]:
    """Seconds from a curator's add returning to the last matcher matching the new hash, `adds` times."""
    delays = []
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for _ in range(adds):
            signal = f"{rng.getrandbits(256):064x}"
            http.post(curator + "/c/bank/bench/signal", json={"pdq": signal}).raise_for_status()
            t0 = time.perf_counter()
            waiting = set(matchers)
            while waiting:
                for base in sorted(waiting):
                    found = http.get(base + "/m/lookup", params={"signal_type": "pdq", "signal": signal})
                    if found.json().get("bench"):
                        waiting.discard(base)
                if waiting:
                    time.sleep(0.02)
                if time.perf_counter() - t0 > 60:
                    raise SystemExit("a new hash was not matched within 60 s")
            delays.append(time.perf_counter() - t0)
            time.sleep(rng.uniform(0, 1.0))  # adds land at random points of the matchers' check cycle
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank-size", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--adds", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="ncii-matchers-") as tmp:
        folder = Path(tmp)
        env, bank, token = prepare(folder, args.bank_size, rng)
        queries = [(flip(rng.choice(bank), 8, rng), True) for _ in range(2000)]
        queries += [(f"{rng.getrandbits(256):064x}", False) for _ in range(2000)]
        rng.shuffle(queries)
        print(f"bank of {args.bank_size:,} PDQ hashes; load {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores")
        with (
            serving(env, "curator") as (curator, _),
            serving(env, "matcher") as one,
            serving(env, "matcher") as two,
        ):
            load([one, two], token, queries, 2, args.connections)  # warm both
            runs: dict[int, list[dict[str, float]]] = {1: [], 2: []}
            for round_ in range(args.rounds):
                for n in (1, 2) if round_ % 2 == 0 else (2, 1):
                    got = load([one, two][:n], token, queries, args.seconds, args.connections)
                    runs[n].append(got)
                    print(
                        f"  round {round_ + 1}, {n} matcher(s): {json.dumps({k: round(v, 2) for k, v in got.items()})}"
                    )
            delays = propagation(curator, [one[0], two[0]], token, args.adds, rng)
        print(f"load at the end {os.getloadavg()[0]:.1f}")
    median = {n: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for n, rs in runs.items()}
    for n in (1, 2):
        m = median[n]
        print(
            f"{n} matcher(s): {m['lookups_per_s']:,.0f} lookups/s (median of {args.rounds}), p50 {m['p50_ms']:.1f} ms, "
            f"p99 {m['p99_ms']:.1f} ms, {m['matcher_cpu_ms_per_lookup']:.2f} CPU-ms a lookup, "
            f"errors {sum(r['errors'] for r in runs[n]):.0f}, wrong {sum(r['wrong'] for r in runs[n]):.0f}"
        )
    print(f"scaling 2 vs 1 matcher: {median[2]['lookups_per_s'] / median[1]['lookups_per_s']:.2f}x")
    print(
        f"new hash matched by both matchers after: median {statistics.median(delays):.2f} s, "
        f"max {max(delays):.2f} s ({len(delays)} adds)"
    )


if __name__ == "__main__":
    main()
