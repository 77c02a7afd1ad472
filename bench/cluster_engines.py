"""Ray or Dask for the distributed scan: start-up, per-task overhead, a worker killed mid-task.

Usage (each engine in its own throwaway venv, so install sizes can be compared too):
    uv venv /tmp/v-ray && uv pip install -p /tmp/v-ray/bin/python ray psutil
    uv venv /tmp/v-dask && uv pip install -p /tmp/v-dask/bin/python "dask[distributed]"
    /tmp/v-ray/bin/python bench/cluster_engines.py ray ; /tmp/v-dask/bin/python bench/cluster_engines.py dask
    du -sh /tmp/v-ray /tmp/v-dask

Prints: seconds from nothing to a 2-worker local cluster's first result; per-task round trip (median of 3
batches) for an empty task and for a 400 kB payload (a 1280-px JPEG's size); and whether two 2-second tasks
still complete when one worker process is SIGKILLed mid-task (and how long they took).
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
import time

PAYLOAD = os.urandom(400_000)


def noop(data: bytes) -> int:
    return len(data)


def slow(data: bytes) -> int:
    time.sleep(2)
    return len(data)


def main(engine: str) -> None:
    began = time.perf_counter()
    if engine == "ray":
        import psutil
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        remote_noop, remote_slow = ray.remote(max_retries=3)(noop), ray.remote(max_retries=3)(slow)
        ray.get([remote_noop.remote(b"") for _ in range(2)])

        def run(n: int, data: bytes) -> float:
            t = time.perf_counter()
            ray.get([remote_noop.remote(data) for _ in range(n)])
            return (time.perf_counter() - t) / n

        def kill_one() -> list[int]:
            futures = [remote_slow.remote(b"x") for _ in range(2)]
            time.sleep(1)
            busy = [
                p
                for p in psutil.Process().children(recursive=True)
                if "slow" in " ".join(p.cmdline()) and "ray::" in " ".join(p.cmdline())
            ]
            busy[0].kill()
            return ray.get(futures)

    else:
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
        client.gather([client.submit(noop, b"", pure=False) for _ in range(2)])

        def run(n: int, data: bytes) -> float:
            t = time.perf_counter()
            client.gather([client.submit(noop, data, pure=False) for _ in range(n)])
            return (time.perf_counter() - t) / n

        def kill_one() -> list[int]:
            futures = [client.submit(slow, b"x", pure=False) for _ in range(2)]
            time.sleep(1)
            os.kill(next(iter(client.run(os.getpid).values())), signal.SIGKILL)
            return client.gather(futures)

    start = time.perf_counter() - began
    empty = statistics.median(run(200, b"") for _ in range(3))
    loaded = statistics.median(run(100, PAYLOAD) for _ in range(3))
    t = time.perf_counter()
    results = kill_one()
    print(
        f"{engine}: start-up {start:.2f} s; per task {empty * 1000:.2f} ms empty, {loaded * 1000:.2f} ms with"
        f" 400 kB; worker killed mid-task: results {results} after {time.perf_counter() - t:.2f} s"
    )


if __name__ == "__main__":
    main(sys.argv[1])
