"""Writing what a crawl fetched as a standard WARC (ISO 28500) with warcio.

Each fetch is a request record and a response record (linked by WARC-Concurrent-To), both carrying
WARC-Target-URI and WARC-Date; warcio adds the block and payload digests. A response cut short by a cap
says so in WARC-Truncated. Each HTML page gets a metadata record of its outlinks (Heritrix's
``outlink: URL hop how`` lines), which is how a scan knows the page that linked an image. The body is
stored as served, after chunked transfer coding is undone (HTTP clients undo it), so the header that
announced it is kept under another name.

The file is created with mode 0600 and never overwritten: it holds what was fetched, in clear, like an
export folder does; keep it where exports are kept.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from ncii_shield.crawl.links import Links
    from ncii_shield.takedown.safe_fetch import Fetched

_HOP_CODE = {"a/@href": "L"}  # Heritrix hop codes: L a link, E an embed (images and the rest)


def warc_date(fetched: Fetched) -> str:
    return fetched.started.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WarcOut:
    """An open WARC file: `exchange` for each fetch, `outlinks` for each page, then `close`."""

    def __init__(self, path: Path, info: dict[str, str]) -> None:
        from warcio.warcwriter import WARCWriter

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._handle: BinaryIO = os.fdopen(descriptor, "wb")
        gzip = self.path.name.endswith((".gz", ".gzip"))
        self._writer = WARCWriter(self._handle, gzip=gzip, warc_version="1.1")
        self._writer.write_record(self._writer.create_warcinfo_record(self.path.name, info))
        self.records = 1

    def exchange(self, fetched: Fetched) -> str:
        """Write the request and the response; returns the response's WARC-Record-ID."""
        from warcio.statusandheaders import StatusAndHeaders

        date = warc_date(fetched)
        headers = [
            (f"X-Crawler-{name}" if name.lower() == "transfer-encoding" else name, value)
            for name, value in fetched.headers
        ]
        status = f"{fetched.status} {fetched.reason}".strip()
        extra = {"WARC-Date": date}
        if fetched.ip:
            extra["WARC-IP-Address"] = fetched.ip
        if fetched.truncated:
            extra["WARC-Truncated"] = fetched.truncated
        response = self._writer.create_warc_record(
            fetched.url,
            "response",
            payload=io.BytesIO(fetched.body),
            length=len(fetched.body),
            http_headers=StatusAndHeaders(status, headers, protocol=fetched.http_version),
            warc_headers_dict=extra,
        )
        request = self._writer.create_warc_record(
            fetched.url,
            "request",
            http_headers=StatusAndHeaders(
                fetched.request_line, fetched.request_headers, is_http_request=True
            ),
            warc_headers_dict={"WARC-Date": date},
        )
        self._writer.write_request_response_pair(request, response)
        self.records += 2
        return str(response.rec_headers.get_header("WARC-Record-ID"))

    def outlinks(self, page_url: str, response_id: str, date: str, links: Links) -> None:
        """The page's links and images, as a metadata record concurrent to its response."""
        lines = [
            f"outlink: {url} {_HOP_CODE.get(how, 'E')} {how}\r\n"
            for url in (*links.pages, *links.images)
            for how in (links.how.get(url, ""),)
        ]
        if not lines:
            return
        body = "".join(lines).encode("utf-8")
        record = self._writer.create_warc_record(
            page_url,
            "metadata",
            payload=io.BytesIO(body),
            length=len(body),
            warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response_id},
        )
        self._writer.write_record(record)
        self.records += 1

    def log(self, summary: dict[str, object]) -> None:
        """The crawl's own account (what was refused, disallowed, cut short and why), as the last record:
        what was not fetched is part of the evidence too."""
        import json

        body = json.dumps(summary, ensure_ascii=False, indent=1).encode("utf-8")
        record = self._writer.create_warc_record(
            "metadata://ncii-shield/crawl-summary.json",
            "metadata",
            payload=io.BytesIO(body),
            length=len(body),
            warc_content_type="application/json",
        )
        self._writer.write_record(record)
        self.records += 1

    def size(self) -> int:
        self._handle.flush()
        return self._handle.tell()

    def close(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
