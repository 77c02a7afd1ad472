"""Our PDQ index against python-threatexchange's (faiss) on the same hashes and queries.

Usage:
    .venv/bin/python bench/pdq_index.py --n 10000000 --queries 20000   # the target size (~4 min)
    .venv/bin/python bench/pdq_index.py --n 1000000                    # quick mode (~40 s)
    .venv/bin/python bench/pdq_index.py --n 10000000 --tune            # table layouts (~4 min)

The bank is N random hashes plus planted near-duplicates (copies of base hashes with 0-40 bits
flipped); half the queries are bases with 0-8 more bits flipped (true matches at many distances,
around the threshold too), half are fresh random hashes (no match). Each index runs in its own
subprocesses so that memory is measured separately:

- ours, build: bulk add of all but the last hashes, then the rest in incremental batches (add
  throughput, merges included), then save.
- ours, serve: a fresh process loads the file and answers every query in batches; its peak RSS
  (VmHWM) is the memory a matching service needs.
- theirs, build and serve: `threatexchange.signal_type.pdq.pdq_index.PDQIndex` (faiss
  IndexBinaryMultiHash, 16 x 16-bit tables), pickled after the build (its persistence) and
  unpickled in a fresh process to serve. If it fails or exceeds the time limit at N, it is
  retried at N/2, N/4, ... and the largest N it handled is reported.

Recall is measured against numpy brute force on a sample of the queries (exact = 1.0).
Prints a summary and writes everything to <workdir>/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

THRESHOLD = 31


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def flip_bits(words: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each row with exactly counts[i] distinct random bits flipped."""
    out = words.copy()
    for start in range(0, len(words), 50_000):
        k = len(words[start : start + 50_000])
        order = np.argsort(rng.random((k, 256)), axis=1)
        mask = np.zeros((k, 256), dtype=bool)
        mask[np.arange(k)[:, None], order] = np.arange(256)[None, :] < counts[start : start + k, None]
        out[start : start + k] ^= np.packbits(mask, axis=1).view(">u8").astype(np.uint64)
    return out


def make_data(n: int, queries: int, seed: int, workdir: Path) -> dict[str, Any]:
    """Bank (ids, words) and queries (with and without matches), saved as .npy for the subprocesses."""
    rng = np.random.default_rng(seed)
    bases = max(100, min(10_000, n // 100))
    copies = 8
    base = rng.integers(0, 2**64, size=(bases, 4), dtype=np.uint64)
    planted = flip_bits(np.repeat(base, copies, axis=0), rng.integers(0, 41, bases * copies), rng)
    words = np.concatenate([rng.integers(0, 2**64, size=(n - len(planted), 4), dtype=np.uint64), planted])
    words = words[rng.permutation(n)]
    ids = rng.permutation(n).astype(np.int64) * 2 + 1_000_000_000
    half = queries // 2
    matching = flip_bits(base[rng.integers(0, bases, half)], rng.integers(0, 9, half), rng)
    unmatched = rng.integers(0, 2**64, size=(queries - half, 4), dtype=np.uint64)
    for name, array in {"ids": ids, "words": words, "matching": matching, "unmatched": unmatched}.items():
        np.save(workdir / f"{name}.npy", array)
    return {"planted_bases": bases, "copies_per_base": copies}


def brute_force(ids: np.ndarray, words: np.ndarray, queries: np.ndarray) -> list[set[tuple[int, int]]]:
    """The reference answer: every (id, distance) within THRESHOLD, by comparing with every hash."""
    out: list[set[tuple[int, int]]] = [set() for _ in queries]
    for start in range(0, len(words), 1_000_000):
        chunk = words[start : start + 1_000_000]
        for i, q in enumerate(queries):
            count = np.bitwise_count(chunk ^ q)
            d = count[:, 0] + count[:, 1] + count[:, 2] + count[:, 3]
            hit = np.nonzero(d <= THRESHOLD)[0]
            out[i].update(zip(ids[start + hit].tolist(), d[hit].tolist(), strict=True))
    return out


def recall(found: list[list[list[int]]], expected: list[set[tuple[int, int]]]) -> dict[str, float | int]:
    got = [{(int(i), int(d)) for i, d in hits} for hits in found]
    true = sum(len(e) for e in expected)
    hit = sum(len(g & e) for g, e in zip(got, expected, strict=True))
    extra = sum(len(g - e) for g, e in zip(got, expected, strict=True))
    return {"expected_pairs": true, "found": hit, "wrong": extra, "recall": hit / true if true else 1.0}


def sample_rows(queries: int, sample: int) -> tuple[np.ndarray, np.ndarray]:
    """Which matching / unmatched queries are checked against brute force (2/3 matching)."""
    half = queries // 2
    return np.arange(min(half, sample * 2 // 3)), np.arange(min(queries - half, sample - sample * 2 // 3))


# ---- subprocess roles -------------------------------------------------------------------------


def role_ours_build(workdir: Path, incremental: int, batch: int) -> dict[str, Any]:
    from ncii_shield.index.pdq_index import PDQIndex

    ids, words = np.load(workdir / "ids.npy"), np.load(workdir / "words.npy")
    bulk = len(ids) - incremental
    index = PDQIndex()
    start = time.perf_counter()
    index.add(ids[:bulk], words[:bulk])
    build = time.perf_counter() - start
    start = time.perf_counter()
    for a in range(bulk, len(ids), batch):
        index.add(ids[a : a + batch], words[a : a + batch])
    adds = time.perf_counter() - start
    # single-hash adds and removes of ids already present: the replace path, one call per hash
    one = 1000
    start = time.perf_counter()
    for a in range(len(ids) - one, len(ids)):
        index.add(ids[a : a + 1], words[a : a + 1])
    single = time.perf_counter() - start
    start = time.perf_counter()
    removed = index.remove(ids[:1000])
    remove = time.perf_counter() - start
    index.add(ids[:1000], words[:1000])  # back, so both indexes hold the same bank
    start = time.perf_counter()
    index.save(workdir / "ours.pdqidx")
    save = time.perf_counter() - start
    return {
        "bulk_rows": bulk,
        "build_s": build,
        "build_rows_per_s": bulk / build,
        "incremental_rows": incremental,
        "incremental_batch": batch,
        "incremental_rows_per_s": incremental / adds if incremental else None,
        "single_add_us": single / one * 1e6,
        "remove_1000_ms": remove * 1e3,
        "removed": removed,
        "save_s": save,
        "file_mb": (workdir / "ours.pdqidx").stat().st_size / 1e6,
        "repr": repr(index),
        "build_process_peak_rss_mb": peak_rss_mb(),
    }


def timed_search(search: Any, queries: np.ndarray, batch: int) -> tuple[float, list[Any]]:
    out: list[Any] = []
    start = time.perf_counter()
    for a in range(0, len(queries), batch):
        out.extend(search(queries[a : a + batch]))
    return time.perf_counter() - start, out


def role_ours_serve(workdir: Path, batch: int, sample: int, numpy_queries: int) -> dict[str, Any]:
    from ncii_shield.index import pdq_kernel
    from ncii_shield.index.pdq_index import PDQIndex

    matching, unmatched = np.load(workdir / "matching.npy"), np.load(workdir / "unmatched.npy")
    start = time.perf_counter()
    index = PDQIndex.load(workdir / "ours.pdqidx")
    load = time.perf_counter() - start
    rss_loaded = peak_rss_mb()
    result: dict[str, Any] = {"load_s": load, "rss_after_load_mb": rss_loaded, "c_kernel": pdq_kernel.HAVE_C}
    found_m: list[Any] = []
    found_u: list[Any] = []
    for threads in (index.threads, 1):
        index.threads = threads
        cpu = time.process_time()
        t_m, found_m = timed_search(index.search, matching, batch)
        t_u, found_u = timed_search(index.search, unmatched, batch)
        cpu = time.process_time() - cpu
        n = len(matching) + len(unmatched)
        result[f"threads_{threads}"] = {
            "matching_qps": len(matching) / t_m,
            "unmatched_qps": len(unmatched) / t_u,
            "all_qps": n / (t_m + t_u),
            "cpu_s_per_1000": cpu / n * 1000,
            "mean_hits_matching": sum(map(len, found_m)) / len(matching),
        }
    one_by_one = np.concatenate([matching[:500], unmatched[:500]])
    start = time.perf_counter()
    for q in one_by_one:
        index.search(q)
    result["single_query_us"] = (time.perf_counter() - start) / len(one_by_one) * 1e6
    result["peak_rss_mb"] = peak_rss_mb()  # before the numpy run, whose scratch arrays are larger
    if numpy_queries:
        pdq_kernel._c = None  # the fallback used where no compiler was available
        index.threads = os.cpu_count() or 1
        q = np.concatenate([matching[: numpy_queries // 2], unmatched[: numpy_queries - numpy_queries // 2]])
        took, _ = timed_search(index.search, q, batch)
        result["numpy_kernel_qps"] = len(q) / took
    rows_m, rows_u = sample_rows(len(matching) + len(unmatched), sample)
    result["sample"] = [found_m[i] for i in rows_m] + [found_u[i] for i in rows_u]
    result["peak_rss_with_numpy_kernel_mb"] = peak_rss_mb()
    return result


def hexes(words: np.ndarray) -> list[str]:
    raw = words.astype(">u8").tobytes()
    return [raw[i : i + 32].hex() for i in range(0, len(raw), 32)]


def role_theirs_build(workdir: Path, n: int) -> dict[str, Any]:
    import pickle

    from threatexchange.signal_type.pdq.pdq_index import PDQIndex as TheirIndex

    ids, words = np.load(workdir / "ids.npy")[:n], np.load(workdir / "words.npy")[:n]
    start = time.perf_counter()
    signals = hexes(words)
    to_hex = time.perf_counter() - start
    start = time.perf_counter()
    index = TheirIndex(entries=zip(signals, ids.tolist(), strict=True))
    build = time.perf_counter() - start
    rss = peak_rss_mb()
    del signals
    start = time.perf_counter()
    with open(workdir / "theirs.pickle", "wb") as f:
        pickle.dump(index, f, protocol=pickle.HIGHEST_PROTOCOL)
    save = time.perf_counter() - start
    return {
        "n": n,
        "hex_s": to_hex,
        "build_s": build,
        "build_rows_per_s": n / build,
        "save_s": save,
        "file_mb": (workdir / "theirs.pickle").stat().st_size / 1e6,
        "build_process_peak_rss_mb": max(rss, peak_rss_mb()),
        "class": f"{type(index).__module__}.{type(index).__qualname__} over {type(index.index).__name__}",
    }


def role_theirs_serve(workdir: Path, batch: int, sample: int, single: int) -> dict[str, Any]:
    import pickle

    matching, unmatched = np.load(workdir / "matching.npy"), np.load(workdir / "unmatched.npy")
    start = time.perf_counter()
    with open(workdir / "theirs.pickle", "rb") as f:
        index = pickle.load(f)
    load = time.perf_counter() - start
    result: dict[str, Any] = {"load_s": load, "rss_after_load_mb": peak_rss_mb()}
    inner = index.index  # PDQMultiHashIndex: the batch API under PDQIndex.query

    def batch_search(chunk: np.ndarray) -> list[list[tuple[int, int]]]:
        signals = hexes(chunk)
        found = inner.search_with_distance_in_result(signals, THRESHOLD)
        return [[(index.local_id_to_entry[i][1], int(d)) for i, _, d in found[s]] for s in signals]

    cpu = time.process_time()
    t_m, found_m = timed_search(batch_search, matching, batch)
    t_u, found_u = timed_search(batch_search, unmatched, batch)
    cpu = time.process_time() - cpu
    n = len(matching) + len(unmatched)
    result["batch"] = {
        "matching_qps": len(matching) / t_m,
        "unmatched_qps": len(unmatched) / t_u,
        "all_qps": n / (t_m + t_u),
        "cpu_s_per_1000": cpu / n * 1000,
    }
    signals = hexes(np.concatenate([matching[: single // 2], unmatched[: single - single // 2]]))
    start = time.perf_counter()
    for s in signals:
        index.query(s)
    result["query_api_qps"] = len(signals) / (time.perf_counter() - start)
    rows_m, rows_u = sample_rows(n, sample)
    result["sample"] = [found_m[i] for i in rows_m] + [found_u[i] for i in rows_u]
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def tune(n: int, seed: int) -> None:
    """Tables (m) and bucket size at n random hashes: probes, candidates, memory, CPU per lookup."""
    from ncii_shield.index import pdq_segment
    from ncii_shield.index.pdq_kernel import ball

    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
    queries = rng.integers(0, 2**64, size=(2000, 4), dtype=np.uint64)
    print(
        "| tables m | substring bits | bucket bits | radii at 31 | probes | entries scanned | candidates | MB | CPU us/lookup |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for tables in (9, 10, 11, 12):
        for bucket_rows in (16, 8):
            pdq_segment.BUCKET_ROWS = bucket_rows
            segment = pdq_segment.build(np.arange(n), words, tables)
            params = segment.plan(THRESHOLD)
            assert params is not None
            probes = scanned = candidates = 0.0
            for _, bits, high, _, radius in params.tolist():
                probes += ball(high, radius)
                scanned += ball(high, radius) * n / 2**high
                candidates += ball(bits, radius) * n / 2**bits
            best = float("inf")
            for _ in range(3):
                start = time.thread_time()
                segment.search(queries, THRESHOLD)
                best = min(best, (time.thread_time() - start) / len(queries))
            spans = sorted({int(b) for b in segment.tables[:, 1]})
            highs = sorted({int(h) for h in segment.tables[:, 2]})
            print(
                f"| {tables} | {'/'.join(map(str, spans))} | {'/'.join(map(str, highs))} | "
                f"{sorted(params[:, 4].tolist(), reverse=True)} | {probes:,.0f} | {scanned:,.0f} | "
                f"{candidates:,.0f} | {segment.nbytes / 1e6:.0f} | {best * 1e6:.0f} |",
                flush=True,
            )
            del segment


# ---- orchestration ---------------------------------------------------------------------------


def run_role(args: list[str], timeout: float | None = None) -> dict[str, Any]:
    """Run this script in a fresh process for one role; its last stdout line is the JSON result."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{args[1]} exited with {proc.returncode}: {' | '.join(tail)}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(int(mem.split()[1]) / 1024**2, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="hashes in the bank")
    parser.add_argument("--queries", type=int, default=20_000, help="half with matches, half without")
    parser.add_argument("--batch", type=int, default=5_000, help="queries per search call")
    parser.add_argument("--incremental", type=int, default=100_000, help="hashes added after the bulk build")
    parser.add_argument("--add-batch", type=int, default=1_000, help="hashes per incremental add call")
    parser.add_argument("--sample", type=int, default=150, help="queries checked against brute force")
    parser.add_argument(
        "--numpy-queries", type=int, default=1_000, help="queries for the numpy kernel (0: skip)"
    )
    parser.add_argument("--theirs-timeout", type=float, default=15 * 60, help="seconds for their build")
    parser.add_argument("--theirs-single", type=int, default=200, help="queries through their per-hash API")
    parser.add_argument("--skip-theirs", action="store_true")
    parser.add_argument("--workdir", type=Path, help="where data and index files go (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tune", action="store_true", help="only compare table layouts at --n")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tune:
        tune(args.n, args.seed)
        return

    if args.role:
        workdir = args.workdir
        roles = {
            "ours-build": lambda: role_ours_build(workdir, args.incremental, args.add_batch),
            "ours-serve": lambda: role_ours_serve(workdir, args.batch, args.sample, args.numpy_queries),
            "theirs-build": lambda: role_theirs_build(workdir, args.n),
            "theirs-serve": lambda: role_theirs_serve(workdir, args.batch, args.sample, args.theirs_single),
        }
        print(json.dumps(roles[args.role]()))
        return

    own_tmp = None if args.workdir else tempfile.TemporaryDirectory(prefix="pdq-bench-")
    workdir = args.workdir or Path(own_tmp.name)  # type: ignore[union-attr]
    workdir.mkdir(parents=True, exist_ok=True)
    common = ["--workdir", str(workdir), "--batch", str(args.batch), "--sample", str(args.sample)]
    results: dict[str, Any] = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}}
    results["load_average_start"] = os.getloadavg()
    t0 = time.perf_counter()

    print(f"data: {args.n:,} hashes, {args.queries:,} queries ...", flush=True)
    start = time.perf_counter()
    results["data"] = make_data(args.n, args.queries, args.seed, workdir)
    results["data"]["seconds"] = time.perf_counter() - start

    print("ours: build, incremental adds, save ...", flush=True)
    incremental = [
        "--incremental",
        str(min(args.incremental, args.n // 2)),
        "--add-batch",
        str(args.add_batch),
    ]
    results["ours_build"] = run_role(["--role", "ours-build", *common, *incremental])
    print(f"  {results['ours_build']}", flush=True)
    print("ours: load and serve in a fresh process ...", flush=True)
    serve = run_role(["--role", "ours-serve", *common, "--numpy-queries", str(args.numpy_queries)])
    ours_sample = serve.pop("sample")
    results["ours_serve"] = serve
    print(f"  {serve}", flush=True)
    (workdir / "ours.pdqidx").unlink()

    ids, words = np.load(workdir / "ids.npy"), np.load(workdir / "words.npy")
    matching, unmatched = np.load(workdir / "matching.npy"), np.load(workdir / "unmatched.npy")
    rows_m, rows_u = sample_rows(args.queries, args.sample)
    sample_queries = np.concatenate([matching[rows_m], unmatched[rows_u]])
    print(f"brute force on {len(sample_queries)} sample queries ...", flush=True)
    start = time.perf_counter()
    expected = brute_force(ids, words, sample_queries)
    results["brute_force_s_per_query"] = (time.perf_counter() - start) / len(sample_queries)
    results["ours_recall"] = recall(ours_sample, expected)
    print(f"  ours: {results['ours_recall']}", flush=True)

    if not args.skip_theirs:
        n = args.n
        while n >= 1000:
            print(f"theirs: build {n:,} in a fresh process ...", flush=True)
            try:
                build = run_role(
                    ["--role", "theirs-build", *common, "--n", str(n)], timeout=args.theirs_timeout
                )
                serve = run_role(
                    ["--role", "theirs-serve", *common, "--theirs-single", str(args.theirs_single)],
                    timeout=args.theirs_timeout,
                )
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                results.setdefault("theirs_failures", []).append({"n": n, "error": str(exc)[:500]})
                print(f"  failed at {n:,}: {exc}", flush=True)
                n //= 2
                continue
            finally:
                (workdir / "theirs.pickle").unlink(missing_ok=True)
            their_sample = serve.pop("sample")
            results["theirs_build"], results["theirs_serve"] = build, serve
            print(f"  {build}\n  {serve}", flush=True)
            if n != args.n:
                print(f"brute force on the first {n:,} hashes for their recall ...", flush=True)
                expected = brute_force(ids[:n], words[:n], sample_queries)
            results["theirs_recall"] = recall(their_sample, expected)
            print(f"  theirs: {results['theirs_recall']}", flush=True)
            break

    results["load_average_end"] = os.getloadavg()
    results["total_s"] = time.perf_counter() - t0
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    report(results)
    if own_tmp:
        own_tmp.cleanup()


def report(r: dict[str, Any]) -> None:
    """The numbers docs/benchmarks.md quotes."""
    ob, os_ = r["ours_build"], r["ours_serve"]
    t = (
        os_[f"threads_{r['machine']['cores']}"]
        if f"threads_{r['machine']['cores']}" in os_
        else os_["threads_1"]
    )
    t1 = os_["threads_1"]
    print("\n== PDQ index ==")
    print(f"machine: {r['machine']}, load average {r['load_average_start']} -> {r['load_average_end']}")
    print(
        f"ours: build {ob['build_s']:.1f}s ({ob['build_rows_per_s']:,.0f}/s), incremental adds "
        f"{ob['incremental_rows_per_s']:,.0f}/s in batches of {ob['incremental_batch']}, single add "
        f"{ob['single_add_us']:.0f} us, save {ob['save_s']:.1f}s ({ob['file_mb']:.0f} MB), load {os_['load_s']:.2f}s"
    )
    print(
        f"ours: lookups/s matching {t['matching_qps']:,.0f}, unmatched {t['unmatched_qps']:,.0f}, all "
        f"{t['all_qps']:,.0f} ({t1['all_qps']:,.0f} on 1 thread; {t1['cpu_s_per_1000']:.3f} CPU-s per 1000); "
        f"numpy kernel {os_.get('numpy_kernel_qps', 0):,.0f}/s; one query per call {os_['single_query_us']:.0f} us"
    )
    print(
        f"ours: serving process peak RSS {os_['peak_rss_mb']:.0f} MB (after load {os_['rss_after_load_mb']:.0f}); "
        f"build process {ob['build_process_peak_rss_mb']:.0f} MB; recall {r['ours_recall']}"
    )
    if "theirs_serve" in r:
        tb, ts = r["theirs_build"], r["theirs_serve"]
        print(
            f"theirs ({tb['class']}) at n={tb['n']:,}: build {tb['build_s']:.1f}s, pickle {tb['save_s']:.1f}s "
            f"({tb['file_mb']:.0f} MB), unpickle {ts['load_s']:.1f}s, lookups/s matching "
            f"{ts['batch']['matching_qps']:,.0f}, unmatched {ts['batch']['unmatched_qps']:,.0f}, all "
            f"{ts['batch']['all_qps']:,.0f}; query() API {ts['query_api_qps']:,.0f}/s; serving peak RSS "
            f"{ts['peak_rss_mb']:.0f} MB, build peak {tb['build_process_peak_rss_mb']:.0f} MB; "
            f"recall {r['theirs_recall']}"
        )
        print(
            f"ours/theirs: lookups/s x{t['all_qps'] / ts['batch']['all_qps']:.1f} "
            f"(per CPU-second x{ts['batch']['cpu_s_per_1000'] / t['cpu_s_per_1000']:.1f}), "
            f"build time x{ob['build_s'] / tb['build_s']:.2f}, serving RSS x{os_['peak_rss_mb'] / ts['peak_rss_mb']:.2f}"
        )
        if tb["n"] != int(r["args"]["n"]):
            print(f"(theirs measured at n={tb['n']:,}, ours at n={int(r['args']['n']):,}: not like for like)")
    for failure in r.get("theirs_failures", []):
        print(f"theirs failed at n={failure['n']:,}: {failure['error']}")
    print(f"total {r['total_s']:.0f}s")


if __name__ == "__main__":
    main()
