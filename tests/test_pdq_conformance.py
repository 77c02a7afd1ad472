"""Our decode + PDQ path gives exactly Meta's expected hashes (expected-pdq.tsv, pdqhash on Pillow)."""

from __future__ import annotations

import csv

import pytest

from ncii_shield.media.decode import decode_image
from ncii_shield.signals.pdq import as_words, distances, from_hex, pdq_dihedral, pdq_from_bytes, pdq_hash
from tests.conftest import DATA

REF = DATA / "pdq-reference"
ROWS = [row for row in csv.DictReader((REF / "expected-pdq.tsv").open(), delimiter="\t")]


def test_reference_set_is_complete() -> None:
    assert len(ROWS) == 29
    assert all((REF / row["path"]).is_file() for row in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_pdq_equals_reference(row: dict[str, str]) -> None:
    value, quality = pdq_hash(decode_image((REF / row["path"]).read_bytes()).rgb)
    assert value.hex() == row["pdq_hex"]
    assert quality == int(row["quality"])


def test_dihedral_references_catch_rotations_and_mirrors() -> None:
    original = decode_image((REF / "reg-test-input/dih/bridge-1-original.jpg").read_bytes()).rgb
    variants, _ = pdq_dihedral(original)
    words = as_words(variants)
    plain = as_words([variants[0]])[0]
    for row in ROWS:
        if "/dih/" not in row["path"] or row["path"].endswith("original.jpg"):
            continue
        rotated = as_words([from_hex(row["pdq_hex"])])[0]
        assert int(distances(words, rotated).min()) <= 8, row["path"]
        assert int(distances(plain[None, :], rotated)[0]) > 31, "a rotation should defeat the plain hash"


def test_from_hex_rejects_bad_length() -> None:
    with pytest.raises(ValueError, match="64 hex"):
        from_hex("abc")


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_reduced_scale_path_conforms(row: dict[str, str]) -> None:
    """The fast path (JPEG draft decode) is identical, or within 10 bits wherever quality >= 80."""
    data = (REF / row["path"]).read_bytes()
    value, quality = pdq_from_bytes(data, fast=True)
    expected = as_words([from_hex(row["pdq_hex"])])[0]
    distance = int(distances(as_words([value]), expected)[0])
    if int(row["quality"]) >= 80:
        assert distance <= 10
    else:
        assert distance == 0 or quality < 80


def test_reduced_scale_path_really_reduces() -> None:
    from ncii_shield.media.decode import decode_image

    data = (REF / "bridge-mods/aaa-orig.jpg").read_bytes()
    full, small = decode_image(data), decode_image(data, min_side=256)
    assert full.rgb.shape == (1004, 1600, 3) and small.rgb.shape == (502, 800, 3)
    assert (small.width, small.height) == (1600, 1004), "the original size is still reported"
