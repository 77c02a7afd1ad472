"""The HMA-compatible API over a real server: HMA's routes and JSON shapes, bearer tokens, uploads only
(no URL fetching), input validation, and the match index that follows every change without rebuilds."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import update
from threatexchange.signal_type.pdq.signal import PdqSignal

from ncii_shield.banks.formats import parse
from ncii_shield.banks.index import BankIndexes
from ncii_shield.banks.service import get_bank, import_entries, remove_signal
from ncii_shield.store import audit
from ncii_shield.store.db import Store
from ncii_shield.store.models import ApiToken
from ncii_shield.web.auth import create_token, create_user
from ncii_shield.web.hma import TOKEN_TTL
from tests.conftest import ASSETS
from tests.web_server import live_server

OBAMA = (ASSETS / "obama.jpg").read_bytes()
DUNE = (ASSETS / "mate-Dune.jpg").read_bytes()


def _reencoded(data: bytes) -> bytes:
    """A light re-encode, as a platform's upload pipeline would: 60% size, JPEG quality 70."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    img = img.resize((img.width * 6 // 10, img.height * 6 // 10))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=70)
    return buf.getvalue()


@dataclass
class Hma:
    base: str
    token: str
    other_scope: str

    def client(self, token: str | None = None) -> httpx.Client:
        token = token or self.token
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {token}"}, timeout=60)


@pytest.fixture
def hma(store: Store) -> Iterator[Hma]:
    with store.session() as s:
        create_user(s, "platform", "a long enough passphrase", "case_worker")
        token = create_token(s, "platform", "matcher", ["hma"])
        other = create_token(s, "platform", "cases", ["cases:read", "cases:write"])
    with live_server(store) as base:
        yield Hma(base, token, other)


def _error(response: httpx.Response, status: int) -> str:
    """HMA's error shape ({"message"}), with this project's "detail" holding the same text."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"message", "detail"} and body["message"] == body["detail"]
    return str(body["message"])


def test_every_route_needs_an_hma_token(hma: Hma) -> None:
    """Every route but the liveness checks, which load balancers call without a token."""
    routes = [
        ("GET", "/m/raw_lookup?signal_type=pdq&signal=" + "0" * 64),
        ("GET", "/m/index/status"),
        ("POST", "/m/compare"),
        ("GET", "/c/banks"),
        ("POST", "/c/banks"),
        ("DELETE", "/c/bank/ANY"),
        ("PUT", "/c/bank/ANY/content/1"),
        ("POST", "/h/hash"),
    ]
    for method, path in routes:
        anonymous = httpx.request(method, hma.base + path)
        assert "needed" in _error(anonymous, 401), path
        assert anonymous.headers["www-authenticate"] == "Bearer"
        wrong = hma.client(hma.other_scope).request(method, path)
        assert "not valid for hma" in _error(wrong, 403), path
    for path in ("/status", "/status/live"):
        for client in (httpx.Client(base_url=hma.base), hma.client(), hma.client(hma.other_scope)):
            alive = client.get(path)
            assert alive.status_code == 200 and alive.text == "I-AM-ALIVE", path


def test_bank_content_and_matching(hma: Hma) -> None:
    c = hma.client()
    created = c.post("/c/banks", json={"name": "NCII_PARTNER"})
    assert created.status_code == 201
    assert created.json() == {"name": "NCII_PARTNER", "matching_enabled_ratio": 1.0}
    assert _error(c.post("/c/banks", json={"name": "NCII_PARTNER"}), 403) == "Bank already exists"
    assert "invalid bank name" in _error(c.post("/c/banks", json={"name": "no spaces"}), 400)
    assert "name" in _error(c.post("/c/banks", json={"enabled": True}), 400)
    assert c.get("/c/banks").json() == [{"name": "NCII_PARTNER", "matching_enabled_ratio": 1.0}]
    assert c.get("/c/bank/NCII_PARTNER").json() == {"name": "NCII_PARTNER", "matching_enabled_ratio": 1.0}
    assert _error(c.get("/c/bank/NOPE"), 404) == "bank 'NOPE' not found"

    added = c.post("/c/bank/NCII_PARTNER/content", files={"photo": ("o.jpg", OBAMA, "image/jpeg")})
    assert added.status_code == 200
    content_id, pdq = added.json()["id"], added.json()["signals"]["pdq"]
    assert added.json() == {"id": content_id, "signals": {"pdq": pdq}}
    assert pdq == PdqSignal.hash_from_bytes(OBAMA), "the same PDQ as HMA's own hasher"
    assert _error(c.post("/c/bank/NOPE/content", files={"photo": OBAMA}), 404) == "bank 'NOPE' not found"

    # Found at once by its PDQ: no index rebuild to wait for.
    raw = c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": pdq, "include_distance": "true"})
    assert raw.json() == {"matches": [{"bank_content_id": content_id, "distance": "0"}]}
    plain = c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": pdq.upper()})
    assert plain.json() == {"matches": [content_id]}
    near = f"{int(pdq, 16) ^ 0b1011:064x}"  # three bits away
    assert c.get(
        "/m/raw_lookup", params={"signal_type": "pdq", "signal": near, "include_distance": "1"}
    ).json() == {"matches": [{"bank_content_id": content_id, "distance": "3"}]}

    # A lightly re-encoded copy is found by upload; a different image is not.
    copy = c.post("/m/lookup", files={"photo": ("copy.jpg", _reencoded(OBAMA), "image/jpeg")})
    assert copy.status_code == 200
    [match] = copy.json()["pdq"]["NCII_PARTNER"]
    assert match["bank_content_id"] == content_id and 0 <= int(match["distance"]) <= 31
    assert c.post("/m/lookup", files={"photo": DUNE}).json() == {"pdq": {}}
    assert c.post("/m/lookup", content=_reencoded(OBAMA)).json()["pdq"]["NCII_PARTNER"][0] == match
    by_signal = c.get("/m/lookup", params={"signal_type": "pdq", "signal": pdq})
    assert by_signal.json() == {"NCII_PARTNER": [{"bank_content_id": content_id, "distance": "0"}]}

    status = c.get("/m/index/status").json()
    assert status["pdq"]["present"] is True and status["pdq"]["size"] == 1
    assert status["pdq"]["built_to"] >= int(time.time()) - 60
    assert set(status["pdq"]) == {"present", "built_to", "size"}
    assert list(c.get("/m/index/status", params={"signal_type": "pdq"}).json()) == ["pdq"]
    assert _error(c.get("/m/index/status", params={"signal_type": "tmk"}), 400) == "No such signal type 'tmk'"

    shown = c.get(f"/c/bank/NCII_PARTNER/content/{content_id}", params={"include_signals": "true"}).json()
    assert shown == {
        "id": content_id,
        "disable_until_ts": 1,
        "original_media_uri": None,
        "bank": {"name": "NCII_PARTNER", "matching_enabled_ratio": 1.0},
        "signals": {"pdq": pdq},
    }
    assert "signals" not in c.get(f"/c/bank/NCII_PARTNER/content/{content_id}").json()

    # Disabled: /m/lookup (enabled banks) skips it unless the coin flip is bypassed; raw_lookup does not.
    updated = c.put("/c/bank/NCII_PARTNER", json={"enabled_ratio": 0.0})
    assert updated.json() == {"name": "NCII_PARTNER", "matching_enabled_ratio": 0.0}
    assert c.get("/m/lookup", params={"signal_type": "pdq", "signal": pdq}).json() == {}
    assert c.get(
        "/m/lookup", params={"signal_type": "pdq", "signal": pdq, "bypass_coinflip": "true"}
    ).json() == {"NCII_PARTNER": [{"bank_content_id": content_id, "distance": "0"}]}
    assert c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": pdq}).json() == {
        "matches": [content_id]
    }
    assert "not supported" in _error(c.put("/c/bank/NCII_PARTNER", json={"enabled_ratio": 0.5}), 400)
    c.put("/c/bank/NCII_PARTNER", json={"enabled": True, "name": "PARTNER_1"}).raise_for_status()
    assert c.get("/m/lookup", params={"signal_type": "pdq", "signal": pdq}).json() == {
        "PARTNER_1": [{"bank_content_id": content_id, "distance": "0"}]
    }

    # Signals added directly, filtered lookups, removal, deletion.
    c.post("/c/banks", json={"name": "OTHER", "enabled": True}).raise_for_status()
    direct = c.post("/c/bank/OTHER/signal", json={"pdq": pdq})
    assert direct.json()["signals"] == {"pdq": pdq} and direct.json()["id"] != content_id
    assert c.post("/c/bank/OTHER/signal", json={"pdq": pdq}).json() == direct.json(), (
        "adding twice is harmless"
    )
    both = c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": pdq}).json()["matches"]
    assert sorted(both) == sorted([content_id, direct.json()["id"]])
    only = c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": pdq, "banks": "OTHER"})
    assert only.json() == {"matches": [direct.json()["id"]]}
    assert _error(
        c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": pdq, "banks": "TYPO"}), 404
    ) == ("bank 'TYPO' not found")
    assert c.delete(f"/c/bank/PARTNER_1/content/{content_id}").json() == {"deleted": 1}
    assert c.delete(f"/c/bank/PARTNER_1/content/{content_id}").json() == {"deleted": 0}
    assert c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": pdq}).json() == {
        "matches": [direct.json()["id"]]
    }
    assert c.delete("/c/bank/OTHER").json() == {"message": "Done"}
    assert c.delete("/c/bank/OTHER").json() == {"message": "Done"}, "deleting again is harmless, as in HMA"
    assert _error(c.get("/c/bank/OTHER"), 404) == "bank 'OTHER' not found"
    assert c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": pdq}).json() == {"matches": []}
    assert c.get("/c/banks").json() == [{"name": "PARTNER_1", "matching_enabled_ratio": 1.0}]


def test_bad_input_is_refused_clearly(hma: Hma) -> None:
    c = hma.client()
    c.post("/c/banks", json={"name": "B"}).raise_for_status()

    def raw(**params: str) -> httpx.Response:
        return c.get("/m/raw_lookup", params=params)

    assert _error(raw(signal_type="pdq"), 400) == "signal is required"
    assert _error(raw(signal="ab" * 32), 400) == "signal_type is required"
    assert "64 hex characters, got 6" in _error(raw(signal_type="pdq", signal="abcdef"), 400)
    assert "only hex characters" in _error(raw(signal_type="pdq", signal="zz" * 32), 400)
    assert "No such SignalType 'tmk'" in _error(raw(signal_type="tmk", signal="ab" * 32), 400)
    assert "boolean" in _error(raw(signal_type="pdq", signal="ab" * 32, include_distance="maybe"), 400)
    assert _error(c.get("/m/lookup", params={"signal_type": "pdq"}), 400).startswith("both signal and")

    assert "64 hex characters" in _error(c.post("/c/bank/B/signal", json={"pdq": "abc"}), 400)
    assert "No such SignalType" in _error(c.post("/c/bank/B/signal", json={"md5": "ab" * 16}), 400)
    assert _error(c.post("/c/bank/B/signal", json={}), 400) == "No signals given"
    assert _error(c.post("/c/bank/B/signal", json=["pdq"]), 400)

    assert _error(c.post("/m/compare", json={"pdq": ["ab" * 32]}), 400).startswith("Comparison hash list")
    assert "Invalid pdq hash" in _error(c.post("/m/compare", json={"pdq": ["ab" * 32, "x"]}), 400)
    pair = ["ab" * 32, "ab" * 31 + "aa"]
    assert c.post("/m/compare", json={"pdq": pair}).json() == {"pdq": [True, {"distance": 1}]}
    far = ["00" * 32, "ff" * 32]
    assert c.post("/m/compare", json={"pdq": far}).json() == {"pdq": [False, {"distance": 256}]}

    assert "cannot hash the upload" in _error(c.post("/h/hash", files={"photo": b"not an image"}), 400)
    assert _error(c.post("/h/hash", files={"video": OBAMA}), 400).startswith("no such content_type: 'video'")
    two = [("photo", ("a.jpg", OBAMA)), ("photo", ("b.jpg", DUNE))]
    assert _error(c.post("/h/hash", files=two), 400) == "Only one file allowed per request"
    assert "Missing" in _error(c.post("/h/hash", content=b""), 400)
    assert "doesn't exist" in _error(c.post("/h/hash", params={"types": "tmk"}, content=OBAMA), 400)
    flat = io.BytesIO()
    Image.new("RGB", (300, 300), "white").save(flat, format="PNG")
    assert c.post("/h/hash", content=flat.getvalue()).json() == {"pdq": ""}, "HMA's answer to a flat image"
    assert "quality" in _error(c.post("/c/bank/B/content", files={"photo": flat.getvalue()}), 400)
    assert "quality" in _error(c.post("/m/lookup", files={"photo": flat.getvalue()}), 400)
    json = {"content-type": "application/json"}
    assert "limit" in _error(c.post("/c/banks", content=b"[" * 2_000_000, headers=json), 413)
    chunked = (b"[" * 65_536 for _ in range(32))  # no Content-Length: counted as it arrives
    assert "limit" in _error(c.post("/c/banks", content=chunked, headers=json), 413)


def test_urls_are_never_fetched(hma: Hma) -> None:
    c = hma.client()
    c.post("/c/banks", json={"name": "B"}).raise_for_status()
    for response in (
        c.get("/h/hash", params={"url": "http://169.254.169.254/latest/meta-data/"}),
        c.get("/h/hash"),
        c.get("/m/lookup", params={"url": "http://127.0.0.1:22/"}),
        c.post("/m/lookup", params={"url": "http://10.0.0.1/x.jpg"}, files={"photo": OBAMA}),
        c.post("/c/bank/B/content", params={"url": "file:///etc/passwd"}),
    ):
        message = _error(response, 400)
        assert "server-side request forgery" in message and "Upload the file" in message


def test_hash_endpoint(hma: Hma) -> None:
    c = hma.client()
    hashed = c.post("/h/hash", files={"photo": ("o.jpg", OBAMA, "image/jpeg")})
    assert hashed.json() == {"pdq": PdqSignal.hash_from_bytes(OBAMA)}
    assert int(hashed.headers["x-pdq-quality"]) >= 50
    both = c.post("/h/hash", params={"types": "pdq,sha256"}, content=OBAMA).json()
    assert both["pdq"] == hashed.json()["pdq"] and len(both["sha256"]) == 64
    c.post("/c/banks", json={"name": "EXACT"}).raise_for_status()
    added = c.post("/c/bank/EXACT/content", params={"types": "sha256"}, files={"photo": OBAMA}).json()
    assert added["signals"] == {"sha256": both["sha256"]}
    found = c.get(
        "/m/raw_lookup",
        params={"signal_type": "sha256", "signal": both["sha256"], "include_distance": "true"},
    )
    assert found.json() == {"matches": [{"bank_content_id": added["id"], "distance": "0"}]}
    assert c.post("/m/compare", json={"sha256": [both["sha256"], both["sha256"]]}).json() == {
        "sha256": [True, {}]
    }


def test_changes_made_elsewhere_are_picked_up(hma: Hma, store: Store) -> None:
    """A bank imported with the CLI's functions while the server runs is matched within seconds."""
    c = hma.client()
    pdq = PdqSignal.hash_from_bytes(OBAMA)
    assert c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": pdq}).json() == {"matches": []}
    with store.session() as s:
        import_entries(s, get_bank(s, "IMPORTED", create=True), parse(f"pdq {pdq}\n", "te"))
    deadline = time.monotonic() + 10
    while (found := c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": pdq}).json())[
        "matches"
    ] == []:
        assert time.monotonic() < deadline, "the import was not picked up"
        time.sleep(0.2)
    assert len(found["matches"]) == 1
    assert c.get("/c/banks").json() == [{"name": "IMPORTED", "matching_enabled_ratio": 1.0}]


def test_bank_indexes_follow_changes_without_rebuilding(store: Store) -> None:
    rng = np.random.default_rng(7)
    hashes = [bytes(rng.integers(0, 256, 32, dtype=np.uint8)) for _ in range(5000)]
    with store.session() as s:
        bank = get_bank(s, "BIG", create=True)
        import_entries(s, bank, parse("".join(f"pdq {h.hex()}\n" for h in hashes), "te"))
        bank_id = bank.id
    indexes = BankIndexes(store, check_every=0.0)
    indexes.ensure_fresh()
    loaded = indexes._banks[bank_id].pdq
    assert len(loaded) == 5000 and indexes.lookup("pdq", hashes[42])["BIG"][0][1] == 0

    # Elsewhere: one more hash, then one removed. The bank's index object is kept: rows are added
    # to it; only a removal made elsewhere reloads that one bank (its size no longer matches).
    extra = bytes(rng.integers(0, 256, 32, dtype=np.uint8))
    with store.session() as s:
        import_entries(s, get_bank(s, "BIG"), parse(f"pdq {extra.hex()}\n", "te"))
    indexes.ensure_fresh()
    assert indexes._banks[bank_id].pdq is loaded and len(loaded) == 5001
    assert "BIG" in indexes.lookup("pdq", extra)
    [(signal_id, _)] = indexes.lookup("pdq", hashes[0])["BIG"]
    with store.session() as s:
        assert remove_signal(s, get_bank(s, "BIG"), signal_id) == 1
    indexes.ensure_fresh()
    assert indexes.lookup("pdq", hashes[0]) == {} and len(indexes._banks[bank_id].pdq) == 5000

    # Nothing changed: a look costs one query and changes nothing.
    with store.session() as s:
        audit.record(s, "scan.finished")
    before = indexes._banks[bank_id]
    indexes.ensure_fresh()
    assert indexes._banks[bank_id] is before


def test_a_revoked_token_stops_working(hma: Hma, store: Store) -> None:
    """Tokens are trusted for TOKEN_TTL seconds after a check (lookups must not each write to the store)."""
    c = hma.client()
    assert c.get("/c/banks").status_code == 200
    with store.session() as s:
        s.execute(update(ApiToken).values(revoked=True))
    time.sleep(TOKEN_TTL + 0.3)
    assert "not valid for hma" in _error(c.get("/c/banks"), 403)


def test_openapi_describes_the_hma_routes(hma: Hma) -> None:
    spec = httpx.get(f"{hma.base}/api/v1/openapi.json").json()
    paths = spec["paths"]
    expected = {
        "/status": {"get"},
        "/status/live": {"get"},
        "/h/hash": {"get", "post"},
        "/m/raw_lookup": {"get"},
        "/m/lookup": {"get", "post"},
        "/m/index/status": {"get"},
        "/m/compare": {"post"},
        "/c/banks": {"get", "post"},
        "/c/bank/{bank_name}": {"get", "put", "delete"},
        "/c/bank/{bank_name}/content": {"post"},
        "/c/bank/{bank_name}/signal": {"post"},
        "/c/bank/{bank_name}/content/{content_id}": {"get", "put", "delete"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
    raw = paths["/m/raw_lookup"]["get"]
    assert {p["name"] for p in raw["parameters"]} == {"signal_type", "signal", "banks", "include_distance"}
    assert raw["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/RawLookupOut")
    assert raw["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/HmaError")
    schemas = spec["components"]["schemas"]
    assert set(schemas["MatchWithDistance"]["properties"]) == {"bank_content_id", "distance"}
    assert set(schemas["BankConfigOut"]["properties"]) == {"name", "matching_enabled_ratio"}
