"""Load on the HMA-compatible lookup API: 200 concurrent clients for 60 s on loopback.

Usage: .venv/bin/python bench/api_load.py [--clients 200] [--seconds 60] [--bank-size 100000]

Builds a throwaway encrypted data directory with one hash bank of ``--bank-size`` random PDQ hashes,
starts ``ncii-shield serve`` (uvicorn, one process) on a free loopback port, creates an API token with
the ``hma`` scope, then runs ``--clients`` concurrent HTTP/1.1 keep-alive clients (httpx, asyncio) that
call ``GET /m/raw_lookup`` as fast as they can for ``--seconds``: half of the queries are near
duplicates of bank entries (must match), half random (must not). Prints requests/s, p50/p95/p99
latency, errors, and how many answers were wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "ncii_shield.cli.main"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def flip(hex_hash: str, bits: int, rng: random.Random) -> str:
    value = int(hex_hash, 16)
    for bit in rng.sample(range(256), bits):
        value ^= 1 << bit
    return f"{value:064x}"


async def client(base: str, token: str, queries: list[tuple[str, bool]], stop: float, out: list) -> None:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        i = random.randrange(len(queries))
        while time.perf_counter() < stop:
            signal, should_match = queries[i % len(queries)]
            i += 1
            t0 = time.perf_counter()
            try:
                r = await http.get(
                    "/m/raw_lookup", params={"signal_type": "pdq", "signal": signal, "banks": "bench"}
                )
                elapsed = time.perf_counter() - t0
                if r.status_code != 200:
                    out.append((elapsed, "error", False))
                    continue
                matched = bool(r.json().get("matches"))
                out.append((elapsed, "ok", matched != should_match))
            except httpx.HTTPError:
                out.append((time.perf_counter() - t0, "error", False))


def wait_ready(base: str, token: str) -> None:
    """Until the server answers at all (/status/live touches no index)."""
    for _ in range(300):
        try:
            if httpx.get(f"{base}/status/live", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.1)


def first_lookup(base: str, token: str, signal: str) -> float:
    """Seconds for the first lookup after start: it loads (or builds) the bank's index."""
    t0 = time.perf_counter()
    httpx.get(
        f"{base}/m/raw_lookup",
        params={"signal_type": "pdq", "signal": signal, "banks": "bench"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    ).raise_for_status()
    return time.perf_counter() - t0


def prepare(folder: Path, bank_size: int, rng: random.Random) -> tuple[dict[str, str], list[str], str]:
    """A data directory under `folder` with a bank "bench" of `bank_size` random PDQ hashes and a user
    with an `hma` token, made through the CLI as an operator would: (environment, bank, token)."""
    env = dict(
        os.environ, NCII_DATA_DIR=str(folder / "data"), NCII_KEY_FILE=str(folder / "key"), HOME=str(folder)
    )
    run: dict[str, Any] = dict(env=env, check=True, capture_output=True, text=True)
    subprocess.run([*CLI, "init", "--generate-key-file", str(folder / "key")], **run)
    bank = [f"{rng.getrandbits(256):064x}" for _ in range(bank_size)]
    (folder / "bank.txt").write_text("".join(f"pdq {h}\n" for h in bank))
    subprocess.run([*CLI, "bank", "import", "bench", str(folder / "bank.txt")], **run)
    password = dict(env, NCII_NEW_PASSWORD="load-benchmark-password")
    subprocess.run([*CLI, "user", "add", "platform", "--role", "case_worker"], **(run | {"env": password}))
    token = subprocess.run([*CLI, "user", "token", "platform", "--name", "bench", "--scope", "hma"], **run)
    return env, bank, token.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--bank-size", type=int, default=100_000)
    args = parser.parse_args()

    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="ncii-load-") as tmp:
        tmpdir = Path(tmp)
        t0 = time.perf_counter()
        env, bank, token = prepare(tmpdir, args.bank_size, rng)
        print(f"bank of {args.bank_size:,} PDQ hashes made and imported in {time.perf_counter() - t0:.1f} s")
        port = free_port()
        server = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, token)
            queries = [(flip(rng.choice(bank), 8, rng), True) for _ in range(2000)]
            queries += [(f"{rng.getrandbits(256):064x}", False) for _ in range(2000)]
            rng.shuffle(queries)
            first = first_lookup(base, token, queries[0][0])
            print(
                f"first lookup after start (index built from the database or loaded): {first * 1000:.0f} ms"
            )
            results: list[tuple[float, str, bool]] = []
            stop = time.perf_counter() + args.seconds

            async def run() -> None:
                await asyncio.gather(
                    *(client(base, token, queries, stop, results) for _ in range(args.clients))
                )

            started = time.perf_counter()
            asyncio.run(run())
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
        # Start-up again on the same data directory: the index persisted by the first run is loaded.
        server = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE)
        try:
            wait_ready(base, token)
            again = first_lookup(base, token, queries[1][0])
            print(f"first lookup after a restart: {again * 1000:.0f} ms")
        finally:
            server.terminate()
            server.wait(timeout=30)
    ok = [r for r in results if r[1] == "ok"]
    latencies = sorted(r[0] for r in ok)
    errors = sum(1 for r in results if r[1] == "error")
    wrong = sum(1 for r in ok if r[2])

    def pct(p: float) -> float:
        return (
            1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("nan")
        )

    print(
        f"{args.clients} clients, {wall:.0f} s: {len(results):,} requests ({len(results) / wall:,.0f}/s), "
        f"errors {errors}, wrong answers {wrong}"
    )
    print(
        f"latency ms: p50 {pct(0.50):.1f}  p95 {pct(0.95):.1f}  p99 {pct(0.99):.1f}  "
        f"max {1000 * latencies[-1] if latencies else float('nan'):.1f}  mean {1000 * statistics.fmean(latencies) if latencies else float('nan'):.1f}"
    )


if __name__ == "__main__":
    main()
