"""Blob put/get cost on the two backends, in the same run: files in a directory and S3-compatible storage
(moto's server on loopback, tests/s3server.py: a Python server, so the S3 figures are an upper bound of the
client's overhead plus moto's, not a real S3's latency).

Usage: .venv/bin/python bench/blob_backends.py [--count N] [--size KiB]

Prints the median milliseconds of a put (new content), a put of content already stored (the reuse
check), and a get, per backend, and the ratio S3 / files.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ncii_shield.store.blobs import FileBlobStore, SealedBlobs


def _median_ms(fn: Callable[[int], object], count: int) -> float:
    times = []
    for i in range(count):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(blobs: SealedBlobs, datas: list[bytes]) -> dict[str, float]:
    keys: list[str] = []
    put = _median_ms(lambda i: keys.append(blobs.put(datas[i], namespace="media", scope="data")), len(datas))
    again = _median_ms(lambda i: blobs.put(datas[i], namespace="media", scope="data"), len(datas))
    get = _median_ms(lambda i: blobs.get(keys[i]), len(datas))
    return {"put": put, "put again": again, "get": get}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--size", type=int, default=160, help="KiB per blob (a photo and its thumbnail)")
    args = parser.parse_args()
    key = os.urandom(32)
    datas = [os.urandom(args.size * 1024) for _ in range(args.count)]
    from tests.s3server import s3_server

    with tempfile.TemporaryDirectory() as tmp, s3_server() as server:
        for name, value in server.env().items():
            os.environ[name] = value
        from ncii_shield.store.blobs_s3 import S3BlobStore

        bucket = server.new_bucket(f"bench-{uuid.uuid4().hex[:8]}")
        results = {
            "files": measure(FileBlobStore(Path(tmp), lambda _: key), datas),
            "s3 (moto, loopback)": measure(
                S3BlobStore(bucket, "b/", lambda _: key, endpoint=server.endpoint), datas
            ),
        }
    print(f"{args.count} blobs of {args.size} KiB, median ms per operation")
    print(f"{'backend':<22}{'put':>8}{'put again':>11}{'get':>8}")
    for name, row in results.items():
        print(f"{name:<22}{row['put']:>8.2f}{row['put again']:>11.2f}{row['get']:>8.2f}")
    files, s3 = results.values()
    print(
        f"{'ratio s3/files':<22}"
        + "".join(f"{s3[k] / files[k]:>{w}.1f}" for k, w in (("put", 8), ("put again", 11), ("get", 8)))
    )


if __name__ == "__main__":
    main()
