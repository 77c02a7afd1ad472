"""Evidence bundles: signed, complete, checkable offline; any changed byte is found."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncii_shield.errors import NciiError
from ncii_shield.evidence.bundle import decrypt_media, export_bundle, signature_path, verify_bundle
from ncii_shield.review.decisions import decide
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case
from ncii_shield.text.service import add_terms
from tests.conftest import ASSETS, cli_env, new_store
from tests.exports import message, write_export
from tests.test_scan import _case, _scan


def _scanned(store: Store, tmp_path: Path) -> int:
    """A case with an exact image hit, a face hit and two text hits (one rejected by review)."""
    photo = ASSETS / "obama.jpg"
    case_id = _case(store, [photo])
    with store.session() as s:
        add_terms(store, s, s.get(Case, case_id), [("name", "김하린")])
    export = write_export(
        tmp_path / "export",
        [
            message(1, photo="photos/a.jpg", text="퍼옴"),
            message(2, photo="photos/b.jpg"),
            message(3, text="한빛여고 07년생 김하린 아시는 분? 갠텔 주세요"),
            message(4, text="김하린 생일 축하해"),
        ],
        files={"photos/a.jpg": photo.read_bytes(), "photos/b.jpg": (ASSETS / "obama2.jpg").read_bytes()},
    )
    _scan(store, export, case_id)
    with store.session() as s:
        rejected = [
            i
            for (i,) in s.execute(__import__("sqlalchemy").text("SELECT item_id FROM hits WHERE kind='text'"))
        ]
        decide(s, case_id, "rejected", "a friend's birthday wish", item_ids=[max(rejected)])
        decide(s, case_id, "confirmed", "checked with her", undecided_only=True)
    return case_id


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object], str]:
    tmp = tmp_path_factory.mktemp("bundle")
    store = new_store(tmp / "data")
    case_id = _scanned(store, tmp)
    out = tmp / "out" / "bundle.zip"
    with store.session() as s:
        result = export_bundle(store, s, case_id, out, media="encrypted", passphrase="correct horse")
    store.close()
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    return out, manifest, result.fingerprint


def test_the_bundle_holds_the_evidence(bundle: tuple[Path, dict[str, object], str]) -> None:
    out, manifest, _ = bundle
    hits = manifest["hits"]
    assert isinstance(hits, list) and len(hits) == 3, "the rejected hit is left out"
    assert all(h["decision"] == "confirmed" and h["decided_by"] for h in hits)
    kinds = {k for h in hits for k in h["kinds"]}
    assert {"exact", "face", "text"} <= kinds
    text = next(h for h in hits if "text" in h["kinds"])
    assert "김하린" not in json.dumps(manifest, ensure_ascii=False), "identifiers stay masked"
    assert "[name]" in text["provenance"]["text_redacted"]
    assert any(s["pdq"] for s in manifest["signals"].values())
    actions = [e.get("action") for e in manifest["audit"]["entries"]]
    assert "case.opened" in actions and "review.confirmed" in actions and "evidence.exported" in actions
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert {
            "report-ko.html",
            "report-en.html",
            "manifest.json",
            "manifest.sig",
            "public_key.txt",
        } <= names
        media = manifest["media"]
        assert media and all(m["file"] in names for m in media)
        first = media[0]
        original = decrypt_media(
            zf.read(first["file"]), "correct horse", manifest["media_salt"], first["file"]
        )
    import hashlib

    assert hashlib.sha256(original).hexdigest() == first["sha256"]


def test_a_bundle_verifies_without_the_data_directory(
    bundle: tuple[Path, dict[str, object], str], tmp_path: Path
) -> None:
    out, _, fp = bundle
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(out, elsewhere / "b.zip")
    shutil.copy(signature_path(out), elsewhere / "b.zip.sig")
    env = {k: v for k, v in cli_env().items() if not k.startswith("NCII_")}
    env["HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "evidence", "verify", "b.zip", "--key", fp, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=elsewhere,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] and result["pinned"] and result["whole_file_signed"] and result["hits"] == 3
    assert not (elsewhere / "ncii-data").exists(), "verifying opens no data directory"


def test_the_wrong_signer_is_refused(bundle: tuple[Path, dict[str, object], str]) -> None:
    out, _, _ = bundle
    check = verify_bundle(out, trusted=["0000:1111:2222:3333:4444:5555:6666:7777"])
    assert not check.ok and "not the key you trust" in check.problems[0]


def test_every_changed_byte_is_found(bundle: tuple[Path, dict[str, object], str], tmp_path: Path) -> None:
    out, _, _ = bundle
    data = out.read_bytes()
    sig = signature_path(out).read_bytes()
    positions = sorted({0, len(data) - 1, *range(7, len(data), max(1, len(data) // 60))})
    for pos in positions:
        damaged = bytearray(data)
        damaged[pos] ^= 0x01
        target = tmp_path / f"d{pos}.zip"
        target.write_bytes(bytes(damaged))
        signature_path(target).write_bytes(sig)
        try:
            check = verify_bundle(target)
        except NciiError:
            continue  # not even a zip any more: also found
        assert not check.ok, f"byte {pos} changed and not detected"


def test_changed_contents_are_found_even_without_the_detached_signature(
    bundle: tuple[Path, dict[str, object], str], tmp_path: Path
) -> None:
    out, _, _ = bundle
    with zipfile.ZipFile(out) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}

    def repack(name: str, changes: dict[str, bytes | None]) -> Path:
        target = tmp_path / name
        with zipfile.ZipFile(target, "w") as zf:
            for n, body in {**members, **changes}.items():
                if body is not None:
                    zf.writestr(n, body)
        return target

    manifest = json.loads(members["manifest.json"])
    manifest["hits"][0]["provenance"]["sender"] = "someone else"
    cases = {
        "report.zip": (
            {"report-en.html": members["report-en.html"] + b"<!-- -->"},
            "report-en.html was changed",
        ),
        "gone.zip": ({"report-ko.html": None}, "report-ko.html is listed in the manifest but missing"),
        "extra.zip": ({"extra.txt": b"planted"}, "extra.txt is not in the manifest"),
        "manifest.zip": ({"manifest.json": json.dumps(manifest).encode()}, "signature is not valid"),
    }
    for name, (changes, expected) in cases.items():
        check = verify_bundle(repack(name, changes))
        assert not check.whole_file_signed
        assert any(expected in p for p in check.problems), (name, check.problems)


def test_audit_slice_tampering_in_a_resigned_manifest_is_still_found(
    bundle: tuple[Path, dict[str, object], str], tmp_path: Path
) -> None:
    """Even the signer cannot quietly drop an audit entry: the slice must link up to the signed head."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    out, _, _ = bundle
    with zipfile.ZipFile(out) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(members["manifest.json"])
    del manifest["audit"]["entries"][1]
    key = Ed25519PrivateKey.generate()
    from ncii_shield.store.chain import public_key_bytes

    manifest["signer"]["ed25519_public_key"] = public_key_bytes(key).hex()
    body = json.dumps(manifest).encode()
    target = tmp_path / "resigned.zip"
    with zipfile.ZipFile(target, "w") as zf:
        for n, b in {**members, "manifest.json": body, "manifest.sig": key.sign(body).hex().encode()}.items():
            zf.writestr(n, b)
    problems = verify_bundle(target).problems
    assert any("gap" in p or "audit:" in p for p in problems), problems


def test_export_errors(store: Store, tmp_path: Path) -> None:
    case_id = _case(store)
    with pytest.raises(NciiError, match="passphrase"), store.session() as s:
        export_bundle(store, s, case_id, tmp_path / "b.zip", media="encrypted", passphrase=None)
    with pytest.raises(NciiError, match="unknown media mode"), store.session() as s:
        export_bundle(store, s, case_id, tmp_path / "b.zip", media="clear")
    assert not (tmp_path / "b.zip").exists()
    bad = tmp_path / "not.zip"
    bad.write_bytes(os.urandom(100))
    with pytest.raises(NciiError, match="not a readable zip"):
        verify_bundle(bad)


# ------------------------------------------------------------------ issue 12: forged members, bad manifests


def _members(out: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(out) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_a_duplicate_member_hiding_a_forgery_is_refused(
    bundle: tuple[Path, dict[str, object], str], tmp_path: Path
) -> None:
    """`unzip` extracts the first of two same-named members, Python reads the last: both must not pass."""
    import warnings

    out, _, _ = bundle
    members = _members(out)
    target = tmp_path / "dup.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name, as it should
        with zipfile.ZipFile(target, "w") as zf:
            zf.writestr("report-en.html", b"<html>forged</html>")
            for n, body in members.items():
                zf.writestr(n, body)
    check = verify_bundle(target)
    assert not check.ok
    assert any("report-en.html" in p and "twice" in p for p in check.problems), check.problems


def _resigned(members: dict[str, bytes], manifest: object, target: Path) -> Path:
    """The bundle with its manifest replaced and signed again by a new key (so the parse is reached)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ncii_shield.store.chain import public_key_bytes

    key = Ed25519PrivateKey.generate()
    if isinstance(manifest, dict) and isinstance(manifest.get("signer"), dict):
        manifest["signer"]["ed25519_public_key"] = public_key_bytes(key).hex()
    body = json.dumps(manifest).encode()
    with zipfile.ZipFile(target, "w") as zf:
        for n, b in {**members, "manifest.json": body, "manifest.sig": key.sign(body).hex().encode()}.items():
            zf.writestr(n, b)
    return target


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m["audit"]["checkpoint"].update(seq="abc"),
        lambda m: m["audit"]["checkpoint"].update(head=5),
        lambda m: m.update(files="all of them"),
        lambda m: m.update(files=[1, 2]),
        lambda m: m["files"][0].pop("sha256"),
        lambda m: m.pop("audit"),
        lambda m: m.update(audit=[]),
        lambda m: m["audit"].update(entries={"seq": 1}),
        lambda m: m["audit"]["entries"][0].update(seq="one"),
        lambda m: m["audit"]["entries"][0].pop("prev"),
        lambda m: m.update(hits=7),
        lambda m: m.update(signer="me"),
        lambda m: m.clear(),
    ],
)
def test_a_malformed_manifest_is_invalid_with_one_line(
    bundle: tuple[Path, dict[str, object], str], tmp_path: Path, mutate: Callable[[dict], object]
) -> None:
    out, manifest, _ = bundle
    changed = copy.deepcopy(manifest)
    mutate(changed)
    check = verify_bundle(_resigned(_members(out), changed, tmp_path / "m.zip"))
    assert not check.ok
    assert any("malformed" in p for p in check.problems), check.problems
    assert all("\n" not in p for p in check.problems)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            found += _paths(v, (*prefix, i))
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_manifest_values_never_crash_verification(
    bundle: tuple[Path, dict[str, object], str], tmp_path: Path, data: st.DataObject
) -> None:
    out, manifest, _ = bundle
    members = _members(out)
    changed = copy.deepcopy(manifest)
    path = data.draw(
        st.sampled_from([p for p in _paths(changed) if p and p[:2] != ("signer", "ed25519_public_key")])
    )
    parent = changed
    for step in path[:-1]:
        parent = parent[step]  # type: ignore[index]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]  # type: ignore[arg-type]
    else:
        parent[path[-1]] = data.draw(_JSON)  # type: ignore[index]
    check = verify_bundle(_resigned(members, changed, tmp_path / "h.zip"))
    assert all(isinstance(p, str) and "\n" not in p for p in check.problems)


def test_hostile_names_never_break_a_problem_line(
    bundle: tuple[Path, dict[str, object], str], tmp_path: Path
) -> None:
    out, manifest, _ = bundle
    changed = copy.deepcopy(manifest)
    changed["files"][0]["path"] = "report-en.html\ninvalid: nothing\x1b[2J"  # type: ignore[index]
    members = {**_members(out), "x\ny.txt": b"planted"}
    check = verify_bundle(_resigned(members, changed, tmp_path / "n.zip"))
    assert not check.ok and len(check.problems) >= 2
    assert all(p.isprintable() for p in check.problems), check.problems


def test_the_bundle_says_where_the_photos_went(bundle: tuple[Path, dict[str, object], str]) -> None:
    """The signed manifest carries the spread: every hit in it once, in its family, with its rooms."""
    _, manifest, _ = bundle
    spread = manifest["spread"]
    assert isinstance(spread, list) and spread
    items = sorted(i for f in spread for i in f["items"])
    assert items == sorted(h["item_id"] for h in manifest["hits"])  # rejected hits are out here too
    for family in spread:
        assert family["copies"] == len(family["items"]) == sum(r["copies"] for r in family["rooms"])
        assert family["first"] is None or family["first"]["item_id"] in family["items"]
    assert "김하린" not in json.dumps(spread, ensure_ascii=False)
