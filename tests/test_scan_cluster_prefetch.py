"""The next chunk's media work starts while this one is written (scan/cluster_prefetch.py): never more than
CHUNKS_IN_FLIGHT chunks at once, the rows and progress those of a local scan, and a failure in the chunk ahead
keeps the chunk being committed and nothing of its own. The remote here runs the workers' side in this process
(media_task, its own store and key) when a result is taken; the Dask cluster itself: tests/test_scan_cluster.py."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ncii_shield.errors import Unavailable
from ncii_shield.scan import cluster_prefetch
from ncii_shield.scan.cluster import media_task, public_settings
from ncii_shield.scan.cluster_prefetch import Ahead, ChunkFiles, prefetched
from ncii_shield.scan.pipeline import run_scan
from ncii_shield.scan.results import Progress
from ncii_shield.sources import open_source
from ncii_shield.store.db import Store
from ncii_shield.store.models import Item, Media
from tests.conftest import ASSETS, TEST_KEY, new_store
from tests.test_scan_cluster import _snapshot

PHOTOS = sorted(p.name for p in ASSETS.glob("*.jpg"))[:9]


class _Results:
    """One chunk's results, each computed when taken (as a cluster's tasks, in order); counted by the remote
    until taken to the end or closed."""

    def __init__(self, remote: _Remote, datas: list[bytes], run: tuple[Any, ...], fails: bool) -> None:
        self.remote, self.datas, self.run, self.fails, self.open = remote, list(datas), run, fails, True

    def __iter__(self) -> _Results:
        return self

    def __next__(self) -> Any:
        if not self.datas:
            self.close()
            raise StopIteration
        if self.fails:
            self.close()
            raise Unavailable("a media task killed tcp://10.0.0.7:4000 repeatedly; the scan stopped")
        settings, source_id, hash_only = self.run
        return media_task(self.datas.pop(0), public_settings(settings), source_id, hash_only, "standard")

    def close(self) -> None:
        if self.open:
            self.open = False
            self.remote.in_flight -= 1


class _Remote:
    """A RemoteMedia that records, for each chunk whose work it is given, how many items were committed then."""

    def __init__(self, store: Store, fail_chunk: int | None = None) -> None:
        self.store, self.fail_chunk = store, fail_chunk
        self.in_flight = self.most_in_flight = 0
        self.committed_at_start: list[int] = []

    def analyse(self, datas, *, settings, source_id, hash_only):  # type: ignore[no-untyped-def]
        with self.store.session() as session:
            self.committed_at_start.append(session.scalar(select(func.count()).select_from(Item)) or 0)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        fails = len(self.committed_at_start) == self.fail_chunk
        return _Results(self, datas, (settings, source_id, hash_only), fails)


class _Recorded(Progress):
    def __init__(self, stop_at_media: int | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.stop_at_media = stop_at_media

    def items(self, n: int) -> None:
        self.calls.append(("items", n))

    def media(self, n: int) -> None:
        self.calls.append(("media", n))
        if self.stop_at_media is not None and self.calls.count(("media", 1)) == self.stop_at_media:
            raise KeyboardInterrupt

    def stage(self, name: str) -> None:
        self.calls.append(("stage", name))

    def position(self, done: int, total: int) -> None:
        self.calls.append(("position", done, total))


@pytest.fixture
def photos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Nine photos and a tenth, in the second chunk, that repeats the first (its media is still in flight
    when the second chunk is begun); chunks of two."""
    monkeypatch.setenv("NCII_SCAN_CHUNK", "2")
    monkeypatch.setenv("NCII_KEY", TEST_KEY.hex())  # the "workers'" own environment
    folder = tmp_path / "photos"
    folder.mkdir()
    for index, name in enumerate(PHOTOS):
        shutil.copy(ASSETS / name, folder / f"{index:02d}-{name}")
    shutil.copy(ASSETS / PHOTOS[0], folder / "020-again.jpg")  # sorted after 02-…
    return folder


def _scan(root: Path, folder: Path, remote_for: Any = None, progress: Progress | None = None) -> Any:
    store = new_store(root)
    remote = remote_for(store) if remote_for else None
    try:
        run_scan(
            store,
            open_source(folder),
            location=folder,
            case_id=None,
            workers=1,
            remote=remote,
            progress=progress,
        )
        return store, remote
    except BaseException:
        store.close()
        raise


def test_at_most_two_chunks_in_flight_and_the_rows_of_a_local_scan(photos: Path, tmp_path: Path) -> None:
    local_progress, remote_progress = _Recorded(), _Recorded()
    local, _ = _scan(tmp_path / "local", photos, progress=local_progress)
    remote_store, remote = _scan(tmp_path / "remote", photos, _Remote, remote_progress)
    try:
        assert _snapshot(remote_store) == _snapshot(local)
        assert len(_snapshot(local)["media"]) == len(PHOTOS)
        assert remote_progress.calls == local_progress.calls  # the same bars, in the same order
        assert remote.most_in_flight == cluster_prefetch.CHUNKS_IN_FLIGHT == 2
        assert remote.in_flight == 0
        # chunk k+1's files went to the workers before chunk k was committed (two items a chunk); the
        # second chunk's repeat of the first photo was not sent again: it was in flight in the first
        assert remote.committed_at_start == [0, 0, 2, 4, 6]
    finally:
        local.close()
        remote_store.close()


def test_a_failure_in_the_chunk_ahead_keeps_the_chunk_being_committed(photos: Path, tmp_path: Path) -> None:
    store = new_store(tmp_path / "data")
    remote = _Remote(store, fail_chunk=2)
    try:
        with pytest.raises(Unavailable, match="killed"):
            run_scan(store, open_source(photos), location=photos, case_id=None, remote=remote)
        assert remote.committed_at_start[:2] == [0, 0]  # chunk 2 was in flight while chunk 1 committed
        assert remote.in_flight == 0  # chunk 3, begun meanwhile, was cancelled
        with store.session() as session:
            names = session.scalars(select(Item.external_id).order_by(Item.id)).all()
            assert len(names) == 2 and all(n.startswith(("00-", "01-")) for n in names)
            assert session.scalar(select(func.count()).select_from(Media)) == 2
        # scanned again, it ends as if it had not been interrupted
        run_scan(store, open_source(photos), location=photos, case_id=None, remote=_Remote(store))
        local, _ = _scan(tmp_path / "local", photos)
        try:
            assert _snapshot(store) == _snapshot(local)
        finally:
            local.close()
    finally:
        store.close()


def test_ctrl_c_while_a_chunk_is_written_cancels_what_was_begun(photos: Path, tmp_path: Path) -> None:
    store = new_store(tmp_path / "data")
    remote = _Remote(store)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_scan(
                store,
                open_source(photos),
                location=photos,
                case_id=None,
                remote=remote,
                progress=_Recorded(stop_at_media=3),  # in the second chunk
            )
        assert remote.most_in_flight == 2 and remote.in_flight == 0
        with store.session() as session:
            assert session.scalar(select(func.count()).select_from(Item)) == 2  # the first chunk, committed
    finally:
        store.close()


_CANCELLED: list[int] = []


class _Begun(Ahead):
    def __init__(self, number: int) -> None:
        super().__init__(ChunkFiles(), None)
        self.number = number

    def cancel(self) -> None:
        _CANCELLED.append(self.number)


def test_prefetched_reads_begins_and_cancels_within_the_window() -> None:
    pulled: list[int] = []
    begun: list[tuple[int, list[int]]] = []

    def source():  # type: ignore[no-untyped-def]
        for n in range(6):
            pulled.append(n)
            yield n

    def start(n: int, in_flight: list[Ahead]) -> Ahead:
        begun.append((n, [a.number for a in in_flight]))  # type: ignore[attr-defined]
        return _Begun(n)

    stream = prefetched(source(), start, window=2)
    for n, ahead in stream:
        assert isinstance(ahead, _Begun) and ahead.number == n
        assert len(pulled) == min(n + 2, 6)  # the item ahead is read; none further
        if n == 3:
            break
    stream.close()
    # each begun while the one before it was still being handled
    assert begun == [(0, []), (1, [0]), (2, [1]), (3, [2]), (4, [3])]
    assert _CANCELLED == [0, 1, 2, 3, 4]  # each when done with (taken or not), 3 and 4 on close
    assert list(prefetched(iter("ab"), None)) == [("a", None), ("b", None)]
    one = prefetched(iter(range(3)), start, window=1)  # no look-ahead: read, begin, handle, in turn
    begun.clear()
    assert [n for n, _ in one] == [0, 1, 2] and begun == [(0, []), (1, []), (2, [])]


def test_no_chunk_is_begun_ahead_while_those_in_flight_hold_too_many_bytes() -> None:
    sizes, begun = [4, 20, 4, 4], []

    def start(n: int, in_flight: list[Ahead]) -> Ahead:
        begun.append((n, [next(iter(a.files.todo)) for a in in_flight]))
        return Ahead(ChunkFiles(todo={str(n): b"x" * sizes[n]}))

    assert [n for n, _ in prefetched(iter(range(4)), start, window=2, most_bytes=10)] == [0, 1, 2, 3]
    # 1 is begun while 0 (4 bytes) is handled; 2 not while 1 (20 bytes) is: after it, and 3 during 2
    assert begun == [(0, []), (1, ["0"]), (2, []), (3, ["2"])]


def test_work_begun_for_other_files_is_cancelled_not_used() -> None:
    closed: list[str] = []

    class _Started(list):  # type: ignore[type-arg]
        def close(self) -> None:
            closed.append("closed")

    ahead = Ahead(ChunkFiles(todo={"a": b"1", "b": b"2"}), _Started([1, 2]))
    assert ahead.take({"b": b"2", "a": b"1"}) is None and closed == ["closed"]  # another order: not these
    ahead = Ahead(ChunkFiles(todo={"a": b"1"}), _Started([1]))
    assert ahead.take({"a": b"1"}) == [1] and ahead.take({"a": b"1"}) is None  # taken once
    ahead.cancel()
    assert closed == ["closed"]
