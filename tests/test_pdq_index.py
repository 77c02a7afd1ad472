"""The PDQ index returns exactly what brute force returns, survives add/remove/save/load, and
refuses damaged files in one line."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ncii_shield.errors import NciiError
from ncii_shield.index import pdq_index, pdq_kernel, pdq_segment
from ncii_shield.index.pdq_index import PDQIndex, hash_words
from ncii_shield.signals.pdq import distances, from_hex
from tests.conftest import DATA

Result = list[list[tuple[int, int]]]


@pytest.fixture(params=["c", "numpy"])
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a test with the C kernel and again with the numpy fallback."""
    if request.param == "c" and not pdq_kernel.HAVE_C:
        pytest.skip("the C kernel is not built (pip install -e . with a compiler)")
    if request.param == "numpy":
        monkeypatch.setattr(pdq_kernel, "_c", None)
    yield request.param


@pytest.fixture
def small_lsm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small delta and forced multi-index search, so a few thousand hashes exercise every path:
    delta, several segments, merges, and the probe tables (not the brute-force shortcut)."""
    monkeypatch.setattr(pdq_index, "DELTA_MAX", 300)
    monkeypatch.setattr(pdq_segment, "COST_BRUTE", 1e12)


def brute_force(ids: np.ndarray, words: np.ndarray, queries: np.ndarray, threshold: int) -> Result:
    """The answer by definition: compare each query with every hash."""
    out = []
    for q in queries:
        d = distances(words, q)
        hit = np.nonzero(d <= threshold)[0]
        out.append(sorted(zip(ids[hit].tolist(), d[hit].tolist(), strict=True), key=lambda p: (p[1], p[0])))
    return out


def flip(words: np.ndarray, bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each row with `bits[i]` distinct random bits flipped: a near-duplicate at exactly that distance."""
    out = words.copy()
    for i, k in enumerate(bits.tolist()):
        for b in rng.choice(256, size=k, replace=False).tolist():
            out[i, b // 64] ^= np.uint64(1 << (63 - b % 64))
    return out


def random_words(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)


def near_duplicates(rng: np.random.Generator, bases: int, copies: int) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, queries): copies of each base at 0..40 flipped bits, and queries = the bases
    themselves, so many pairs sit right at the threshold (31 and 32 are always among them)."""
    base = random_words(rng, bases)
    dist = rng.integers(0, 41, size=bases * copies)
    dist[: 2 * bases] = np.repeat([31, 32], bases)
    return flip(np.repeat(base, copies, axis=0), dist, rng), base


def test_empty_index() -> None:
    index = PDQIndex()
    assert len(index) == 0
    assert index.search(np.zeros((2, 32), np.uint8)) == [[], []]
    assert index.search(np.zeros((0, 32), np.uint8)) == []
    assert index.remove(np.array([1, 2])) == 0


def test_finds_exact_and_near_copies_nearest_first() -> None:
    rng = np.random.default_rng(1)
    base = random_words(rng, 1)
    near = flip(base, np.array([12]), rng)
    index = PDQIndex()
    index.add(np.array([10, 11, 12, 13]), np.concatenate([near, base, base, random_words(rng, 1)]))
    # duplicate hashes under different ids are all returned; ties in distance by id
    assert index.search(base) == [[(11, 0), (12, 0), (10, 12)]]
    assert len(index) == 4


def test_accepts_bytes_or_words() -> None:
    raw = np.arange(32, dtype=np.uint8)[None, :]
    words = hash_words(raw)
    assert words.dtype == np.uint64 and words.shape == (1, 4)
    assert int(words[0, 0]) == int.from_bytes(bytes(range(8)), "big")  # MSB-first, like pdq.as_words
    index = PDQIndex()
    index.add(np.array([5]), raw)
    assert index.search(words) == index.search(raw) == [[(5, 0)]]
    with pytest.raises(ValueError, match="uint8"):
        index.search(np.zeros((1, 32), np.int32))
    with pytest.raises(ValueError, match="ids"):
        index.add(np.array([1.5]), raw)
    with pytest.raises(ValueError, match="1 ids for 2 hashes"):
        index.add(np.array([1]), np.zeros((2, 32), np.uint8))
    with pytest.raises(ValueError, match="threshold"):
        index.search(raw, threshold=-1)


@pytest.mark.parametrize("threshold", [0, 5, 31, 32, 40])
def test_random_hashes_equal_brute_force(kernel: str, small_lsm: None, threshold: int) -> None:
    rng = np.random.default_rng(threshold)
    words = random_words(rng, 3000)
    ids = rng.choice(10**15, size=len(words), replace=False).astype(np.int64)
    index = PDQIndex()
    for start in range(0, len(ids), 250):  # many small adds: delta, flushes and merges
        index.add(ids[start : start + 250], words[start : start + 250])
    queries = np.concatenate([flip(words[:150], rng.integers(0, 45, 150), rng), random_words(rng, 50)])
    expected = brute_force(ids, words, queries, threshold)
    assert sum(map(len, expected)) > 0  # the test has something to find
    assert index.search(queries, threshold) == expected


def test_near_duplicates_at_the_threshold_equal_brute_force(kernel: str, small_lsm: None) -> None:
    rng = np.random.default_rng(7)
    words, queries = near_duplicates(rng, bases=40, copies=60)
    words = np.concatenate([words, random_words(rng, 1000)])
    ids = np.arange(len(words), dtype=np.int64) * 3 + 1
    index = PDQIndex()
    index.add(ids[:1500], words[:1500])
    index.add(ids[1500:], words[1500:])
    result = index.search(queries)
    assert result == brute_force(ids, words, queries, 31)
    found = {d for hits in result for _, d in hits}
    assert 31 in found and 32 not in found and max(found) == 31
    # one bit further, the pairs at 32 appear too
    assert 32 in {d for hits in index.search(queries, 32) for _, d in hits}


def test_big_segment_equals_brute_force(kernel: str) -> None:
    """Default settings on one bulk-built segment large enough to use its probe tables."""
    rng = np.random.default_rng(3)
    words, queries = near_duplicates(rng, bases=30, copies=40)
    words = np.concatenate([words, random_words(rng, 70_000)])
    ids = rng.permutation(len(words)).astype(np.int64)
    index = PDQIndex()
    index.add(ids, words)
    assert pdq_segment.high_bits(len(words), 26) > 10
    assert index._segments[0].plan(31) is not None  # probe tables, not a scan
    queries = np.concatenate([queries, random_words(rng, 20)])
    assert index.search(queries) == brute_force(ids, words, queries, 31)


def evading(word: np.ndarray, params: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """`word` with `total` bits flipped where they hurt most: every table the search skips takes what
    it can, every probed table one bit more than its radius. With sum(radius + 1) > threshold (the
    pigeonhole condition), a copy at `total` <= threshold still falls within some table's radius."""
    tables = list(range(len(params)))
    rng.shuffle(tables)
    tables.sort(key=lambda t: params[t, 4] >= 0)  # skipped tables first
    taken: list[int] = []
    for t in tables:
        start, bits, _, _, radius = params[t].tolist()
        k = min(bits if radius < 0 else radius + 1, total - len(taken))
        taken += rng.choice(np.arange(start, start + bits), size=k, replace=False).tolist()
    rest = np.setdiff1d(np.arange(256), taken)
    taken += rng.choice(rest, size=total - len(taken), replace=False).tolist()
    out = word.copy()
    for b in taken:
        out[b // 64] ^= np.uint64(1 << (63 - b % 64))
    return out


@pytest.mark.parametrize("threshold", [0, 3, 12, 31, 32, 45])
def test_adversarial_copies_at_the_threshold_are_found(kernel: str, small_lsm: None, threshold: int) -> None:
    rng = np.random.default_rng(100 + threshold)
    words = random_words(rng, 1000)
    index = PDQIndex()
    index.add(np.arange(1000), words)
    (segment,) = index._segments
    params = segment.plan(threshold)
    assert params is not None
    at = [max(0, threshold - i % 2) for i in range(60)]  # at the threshold and one bit inside
    queries = np.stack(
        [evading(words[i], params, at[i], rng) for i in range(60)]
        + [evading(words[i], params, threshold + 1, rng) for i in range(60, 80)]
    )
    result = index.search(queries, threshold)
    assert result == brute_force(np.arange(1000), words, queries, threshold)
    assert [(i, at[i]) in hits for i, hits in enumerate(result[:60])] == [True] * 60


def test_real_pdq_hashes_equal_brute_force(kernel: str, small_lsm: None) -> None:
    rows = list(csv.DictReader((DATA / "pdq-reference" / "expected-pdq.tsv").open(), delimiter="\t"))
    real = hash_words(np.frombuffer(b"".join(from_hex(r["pdq_hex"]) for r in rows), np.uint8).reshape(-1, 32))
    rng = np.random.default_rng(5)
    words = np.concatenate([real, random_words(rng, 2000), flip(real, rng.integers(0, 40, len(real)), rng)])
    ids = np.arange(len(words), dtype=np.int64)
    index = PDQIndex()
    index.add(ids, words)
    result = index.search(real)
    assert result == brute_force(ids, words, real, 31)
    names = [r["path"] for r in rows]
    orig, blur = names.index("bridge-mods/aaa-orig.jpg"), names.index("bridge-mods/blur-a-little.jpg")
    assert blur in {i for i, _ in result[orig]}  # a blurred copy matches its original


def test_remove_then_re_add(kernel: str, small_lsm: None) -> None:
    rng = np.random.default_rng(11)
    words = random_words(rng, 2000)
    ids = np.arange(2000, dtype=np.int64)
    index = PDQIndex()
    index.add(ids, words)
    assert index.remove(np.array([3, 3, 1500, 99_999])) == 2  # repeats and unknown ids don't count
    assert len(index) == 1998
    assert index.search(words[[3, 1500, 4]]) == [[], [], [(4, 0)]]
    assert index.remove(np.array([3])) == 0
    index.add(np.array([3]), words[3:4])
    assert index.search(words[[3, 1500]]) == [[(3, 0)], []]
    # re-adding an existing id replaces its hash
    other = random_words(rng, 1)
    index.add(np.array([4]), other)
    assert index.search(words[4:5]) == [[]]
    assert index.search(other) == [[(4, 0)]]
    assert len(index) == 1999
    # within one call the last hash of a repeated id wins
    index.add(np.array([7, 7]), np.concatenate([other, words[7:8]]))
    assert index.search(words[7:8]) == [[(7, 0)]]
    assert [i for i, _ in index.search(other)[0]] == [4]


def test_removing_most_of_a_segment_compacts_it(small_lsm: None) -> None:
    rng = np.random.default_rng(12)
    words = random_words(rng, 5000)
    ids = np.arange(5000, dtype=np.int64)
    index = PDQIndex()
    index.add(ids, words)
    assert index.remove(ids[:3000]) == 3000
    assert len(index) == 2000
    assert all(s.live == len(s) for s in index._segments)  # tombstones dropped by the rebuild
    queries = words[2990:3010]
    assert index.search(queries) == brute_force(ids[3000:], words[3000:], queries, 31)
    assert index.remove(ids) == 2000
    assert len(index) == 0 and index._segments == []


def test_incremental_adds_stay_few_segments(small_lsm: None) -> None:
    rng = np.random.default_rng(13)
    words = random_words(rng, 20_000)
    index = PDQIndex()
    most = 0
    for start in range(0, 20_000, 100):
        index.add(np.arange(start, start + 100), words[start : start + 100])
        most = max(most, len(index._segments))
    assert len(index) == 20_000
    assert most <= pdq_index.MAX_SEGMENTS  # each segment costs a full set of probes per query
    queries = flip(words[::500], rng.integers(0, 35, 40), rng)
    assert index.search(queries) == brute_force(np.arange(20_000), words, queries, 31)


def test_save_and_load_round_trip(tmp_path: Path, kernel: str, small_lsm: None) -> None:
    rng = np.random.default_rng(17)
    words, queries = near_duplicates(rng, bases=20, copies=50)
    ids = np.arange(len(words), dtype=np.int64) - 500  # negative ids too
    index = PDQIndex()
    index.add(ids[:900], words[:900])
    index.add(ids[900:], words[900:])  # a delta as well as segments
    index.remove(ids[::7])
    path = tmp_path / "bank.pdqidx"
    index.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["bank.pdqidx"]  # no temp file left behind
    loaded = PDQIndex.load(path)
    assert len(loaded) == len(index)
    assert loaded.search(queries) == index.search(queries)
    live = np.ones(len(ids), bool)
    live[::7] = False
    assert loaded.search(queries) == brute_force(ids[live], words[live], queries, 31)
    # the loaded index keeps working incrementally and saves over the old file
    loaded.add(np.array([10**12]), queries[:1])
    loaded.save(path)
    assert (10**12, 0) in PDQIndex.load(path).search(queries[:1])[0]


def test_empty_index_round_trip(tmp_path: Path) -> None:
    PDQIndex().save(tmp_path / "empty")
    loaded = PDQIndex.load(tmp_path / "empty")
    assert len(loaded) == 0
    assert loaded.search(np.zeros((1, 4), np.uint64)) == [[]]


@pytest.fixture
def saved(tmp_path: Path, small_lsm: None) -> Path:
    rng = np.random.default_rng(19)
    index = PDQIndex()
    index.add(np.arange(1000), random_words(rng, 1000))
    path = tmp_path / "bank.pdqidx"
    index.save(path)
    return path


def one_line_error(path: Path) -> str:
    with pytest.raises(NciiError) as info:
        PDQIndex.load(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize("keep", [0, 5, 20, 300, -1])
def test_truncated_file_is_refused(saved: Path, keep: int) -> None:
    data = saved.read_bytes()
    saved.write_bytes(data[:keep] if keep >= 0 else data[: len(data) - 1])
    assert "truncated" in one_line_error(saved)


@pytest.mark.parametrize("where", [0.3, 0.6, 0.99])
def test_corrupt_file_is_refused(saved: Path, where: float) -> None:
    data = bytearray(saved.read_bytes())
    data[int(len(data) * where)] ^= 0x10
    saved.write_bytes(bytes(data))
    assert "corrupt" in one_line_error(saved)


def test_corrupt_header_and_other_files_are_refused(saved: Path, tmp_path: Path) -> None:
    with_tail = tmp_path / "tail"
    with_tail.write_bytes(saved.read_bytes() + b"x")
    assert "corrupt" in one_line_error(with_tail)
    data = bytearray(saved.read_bytes())
    data[40] ^= 0x01
    saved.write_bytes(bytes(data))
    assert "corrupt" in one_line_error(saved)
    other = tmp_path / "hashes.txt"
    other.write_text("pdq " + "0" * 64 + "\n")
    assert "not an ncii-shield" in one_line_error(other)
    assert "does not exist" in one_line_error(tmp_path / "missing")
