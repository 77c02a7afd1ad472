"""A scan's media work on a Dask cluster: decode → signals → sealed blobs on the workers.

The driver (the `scan` command) reads the export, hashes it, and sends each new file's bytes as one task;
a worker analyses them and writes the media and thumbnail blobs into the shared blob store; the driver
then inserts the rows in the chunk's transaction, in the export's order, exactly as a local scan does. So
the database is written by one process (ids, hits and signals equal a local scan's), and a worker that
dies mid-task is harmless: Dask runs the task again elsewhere, and a blob is named by the hash of its
plaintext, so writing it twice stores it once. Why Dask and not Ray: docs/scale.md.

Workers must see the same data directory (or NCII_DATABASE_URL and the blob directory) and hold the
deployment key themselves (NCII_KEY_FILE, NCII_KEY or NCII_PASSPHRASE in their environment): tasks carry
the settings without their secrets. `local:N` starts N local worker processes that are given the key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

from ncii_shield.config import Settings, load_settings, without_password
from ncii_shield.errors import NciiError, Unavailable
from ncii_shield.scan.media_store import BlobKeys, put_blobs
from ncii_shield.store.db import Store, database_path

if TYPE_CHECKING:
    from ncii_shield.signals.analyse import Analysis

LOCAL = "local:"
CONNECT_TIMEOUT = "10s"  # to reach a scheduler given by address
_STORES: dict[tuple[str, str], Store] = {}  # per worker process: one open store per data directory


def public_settings(settings: Settings) -> Settings:
    """The settings a task may carry: every secret (key, passphrases, passwords, the database's password)
    left out."""
    secrets = {f.name: None for f in fields(settings) if f.metadata.get("secret")}
    return replace(settings, database_url=without_password(settings.database_url, mask=""), **secrets)


def worker_store(settings: Settings) -> Store:
    """The worker's store for these settings, opened once per process with the worker's own key."""
    where = (str(settings.data_dir), settings.database_url)
    if where in _STORES:
        return _STORES[where]
    path = database_path(settings)
    for needed in (path, settings.blob_dir):  # never create an empty store on a worker that sees neither
        if needed is not None and not needed.exists():
            raise Unavailable(
                f"this worker does not see {needed}",
                hint="cluster workers need the scanning process's data directory (a shared filesystem) "
                "or its NCII_DATABASE_URL and blob directory",
            )
    own = load_settings()  # the key (and a database password) from the worker's own environment
    url = own.database_url if without_password(own.database_url, mask="") == settings.database_url else None
    keyed = replace(
        settings,
        key=own.key,
        passphrase=own.passphrase,
        key_file=own.key_file or settings.key_file,
        database_url=url or settings.database_url,
    )
    from ncii_shield.signals.analyse import prepare_worker

    _undo_malloc_trim()
    prepare_worker()
    store = _STORES[where] = Store(keyed)
    return store


def _undo_malloc_trim() -> None:
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which turns off glibc's adaptive mmap
    threshold: every large image array is then mapped and unmapped anew, +50 % CPU per photo (measured:
    107 → 70 ms with this, docs/benchmarks.md "Distributed scan"). Thresholds above an image's size undo it."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)  # glibc only; elsewhere there is nothing to undo
        if mallopt is not None:
            mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD: 64 MiB
            mallopt(-1, 128 << 20)  # M_TRIM_THRESHOLD: 128 MiB
    except OSError:
        return


def media_task(
    data: bytes, settings: Settings, source_id: int, hash_only: bool, face_detail: str
) -> tuple[Analysis, BlobKeys]:
    """One media file on a worker: its analysis and where its blobs were written."""
    from ncii_shield.signals.analyse import analyse_bytes

    store = worker_store(settings)
    analysis = analyse_bytes(data, with_nudity=hash_only, face_detail=face_detail)
    return analysis, put_blobs(store, source_id, hash_only, analysis, data)


class DaskMedia:
    """The remote side of run_scan (pipeline.RemoteMedia): media tasks submitted to a Dask client.

    `in_flight` counts the chunks whose tasks are submitted and not yet all taken or released (at most
    cluster_prefetch.CHUNKS_IN_FLIGHT during a scan), `most_in_flight` the highest it has been."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.in_flight = 0
        self.most_in_flight = 0

    def workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def analyse(self, datas: list[bytes], *, settings: Settings, source_id: int, hash_only: bool) -> Results:
        """Every file's result, in the order given, each as soon as it and those before it are done (the
        rows are inserted while later files are still analysed). The tasks are submitted now: the next
        chunk's are, while this one is written (scan/cluster_prefetch.py). One task per file, so a dead
        worker's task is run again alone; a task that kills three workers in turn fails the scan."""
        return Results(self, self.submit(datas, settings, source_id, hash_only))

    def submit(self, datas: list[bytes], settings: Settings, source_id: int, hash_only: bool) -> list[Any]:
        """One task per file; the settings of the store being scanned, without their secrets."""
        public = public_settings(settings)
        return [
            self.client.submit(
                media_task, data, public, source_id, hash_only, settings.face_detail, pure=False
            )
            for data in datas
        ]


class Results:
    """A chunk's media tasks, their results taken in order; closing it (done, an error, Ctrl-C) cancels
    and releases the tasks whose results were not taken."""

    def __init__(self, owner: DaskMedia, futures: list[Any]) -> None:
        self._owner, self._futures, self._taken = owner, futures, 0
        self._open = True
        owner.in_flight += 1
        owner.most_in_flight = max(owner.most_in_flight, owner.in_flight)

    def __iter__(self) -> Results:
        return self

    def __next__(self) -> tuple[Analysis, BlobKeys]:
        from distributed import KilledWorker

        if self._taken >= len(self._futures):
            self.close()
            raise StopIteration
        future = self._futures[self._taken]
        try:
            result: tuple[Analysis, BlobKeys] = future.result()
        except KilledWorker as exc:
            self.close()
            raise Unavailable(
                f"a media task killed {exc.last_worker.address if exc.last_worker else 'its workers'} "
                "repeatedly; the scan stopped (what was committed is kept)",
                hint="scan again: committed chunks are skipped",
            ) from exc
        except NciiError:  # the worker's own one-line error (it does not see the store, ...)
            self.close()
            raise
        except Exception as exc:  # not an item's fault (a worker's disk, the connection): stop, keep the rest
            self.close()
            why = " ".join(str(exc).split())[:200]
            raise Unavailable(
                f"a media task failed ({type(exc).__name__}: {why}); the scan stopped (what was committed is kept)",
                hint="see the worker's log; scan again: committed chunks are skipped",
            ) from exc
        except BaseException:  # Ctrl-C
            self.close()
            raise
        self._taken += 1
        future.release()
        return result

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        self._owner.in_flight -= 1
        left = self._futures[self._taken :]
        if left:
            with suppress(Exception):  # a scheduler gone: the tasks go with it
                self._owner.client.cancel(left)
        for future in left:
            future.release()


def parse_local(address: str) -> int | None:
    """N for `local:N`, None for a scheduler address."""
    if not address.startswith(LOCAL):
        return None
    count = address[len(LOCAL) :]
    if not count.isdigit() or int(count) < 1:
        raise NciiError(f"invalid cluster {address!r}", hint="use local:N (N workers) or tcp://host:8786")
    return int(count)


@contextmanager
def open_cluster(address: str, store: Store) -> Iterator[DaskMedia]:
    """A client of the scheduler at `address`, or of a cluster of N local workers for `local:N`.

    Local workers are separate processes on loopback, one thread each (the decoders use their own
    threads), given the deployment key in their environment at start-up."""
    import logging

    import dask
    from distributed import Client, LocalCluster

    count = parse_local(address)
    cluster = None
    try:
        if count is not None:
            kek: bytes = store.keyring._kek  # the unwrapped deployment key: only to our own child processes
            # no MALLOC_TRIM_THRESHOLD_ (see _undo_malloc_trim); the nanny would also leave it in our environment
            with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
                cluster = LocalCluster(
                    n_workers=count,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                    env={"NCII_KEY": kek.hex(), "NCII_DATABASE_URL": store.settings.database_url},
                )
            client = Client(cluster)
        else:
            client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise Unavailable(
            f"cannot reach the cluster at {address}: {exc}",
            hint="start a scheduler (`dask scheduler`) and workers (`dask worker ADDRESS --nthreads 1`)",
        ) from exc
    try:
        yield DaskMedia(client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
