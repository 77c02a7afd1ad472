"""What a fetched page points at: its links and its images, read from the HTML and nothing else.

No script runs and no style is applied: the page is tokenised by the standard library's HTML parser and
only <a href>, <img src/srcset>, <source srcset> (inside <picture>) and the og:image/twitter:image
meta tags are read, resolved against the page URL (or its <base href>). Images a script would load
are not found; that is the price of never running one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

MAX_LINKS = 2000  # per page and kind: a hostile page cannot make the frontier grow without bound
_IMAGE_META = frozenset(
    {"og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"}
)


@dataclass
class Links:
    """Absolute http(s) URLs without fragments, in page order, each once; with how each was found."""

    pages: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    how: dict[str, str] = field(default_factory=dict)  # url -> "a/@href", "img/@src"… (the WARC outlinks)


class _Reader(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.links = Links()
        self._seen: set[str] = set()
        self.base_set = False  # only the first <base href> counts, as in browsers

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        if tag == "base" and values.get("href") and not self.base_set:
            self.base = urljoin(self.base, values["href"].strip())
            self.base_set = True
        elif tag == "a" and "href" in values:
            self._add(values["href"], "a/@href", page=True)
        elif tag == "img":
            if "src" in values:
                self._add(values["src"], "img/@src", page=False)
            for candidate in _srcset(values.get("srcset", "")):
                self._add(candidate, "img/@srcset", page=False)
        elif tag == "source" and "srcset" in values:
            for candidate in _srcset(values["srcset"]):
                self._add(candidate, "source/@srcset", page=False)
        elif tag == "meta":
            name = (values.get("property") or values.get("name") or "").strip().lower()
            if name in _IMAGE_META and values.get("content"):
                self._add(values["content"], f"meta/@{name}", page=False)

    def _add(self, raw: str, how: str, *, page: bool) -> None:
        url = absolute(self.base, raw)
        if url is None or url in self._seen:
            return
        bucket = self.links.pages if page else self.links.images
        if len(bucket) >= MAX_LINKS:
            return
        self._seen.add(url)
        bucket.append(url)
        self.links.how[url] = how


def absolute(base: str, raw: str) -> str | None:
    """``raw`` resolved against ``base``, without its fragment; None unless it is http(s) with a host."""
    raw = raw.strip()
    if not raw or raw.startswith(("data:", "javascript:", "mailto:", "#")):
        return None
    try:
        url = urldefrag(urljoin(base, raw)).url
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url


def _srcset(text: str) -> list[str]:
    """The URLs of a srcset ("a.jpg 1x, b.jpg 2x"); commas inside a URL are rare and not supported."""
    return [part.strip().split()[0] for part in text.split(",") if part.strip()]


def extract_links(body: bytes, base: str, charset: str | None = None) -> Links:
    """The links and images of an HTML page (decoded leniently: a wrong charset only garbles text)."""
    try:
        text = body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    reader = _Reader(base)
    try:
        reader.feed(text)
        reader.close()
    except (AssertionError, ValueError):  # html.parser on badly broken markup: keep what was found
        pass
    return reader.links
