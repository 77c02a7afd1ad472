"""Sealed blobs as objects in S3-compatible storage (AWS S3, MinIO, Ceph, …): NCII_BLOB_URL=s3://bucket/prefix.

The sealed format, the names and the rules are store/blobs.py's; only where the bytes go differs. Objects
are named `<prefix><namespace>/<2 hex>/<sha256>` like the files of a blob directory, and a PUT is atomic (a
reader sees the whole object or none). Credentials come only from the standard AWS chain (AWS_ACCESS_KEY_ID
and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance role): never from our settings, so they reach no
settings dump, cluster task or log. Whoever can write to the bucket but lacks the deployment key can
delete blobs, but not read them or slip in others: a replaced object fails to open. boto3 is imported here
only, and only when s3:// is configured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

from ncii_shield.errors import Forbidden, NciiError, NotFound, Unavailable
from ncii_shield.store.blobs import KeyFor, SealedBlobs, is_blob_name, split_key

if TYPE_CHECKING:
    from ncii_shield.config import Settings

CONNECT_TIMEOUT = 5  # seconds; an unreachable endpoint fails in a few seconds, not minutes
READ_TIMEOUT = 60
ATTEMPTS = 3
_MISSING = {"NoSuchKey", "404", "NotFound"}
_REFUSED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "AllAccessDisabled"}
_CREDENTIALS_HINT = "check the AWS credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and the bucket's policy"


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of s3://bucket/some/prefix; the prefix is "" or ends with one "/"."""
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def _client(endpoint: str | None) -> Any:
    """An S3 client from the standard AWS chain; path-style addressing on any endpoint but AWS's own."""
    try:
        import boto3.session
        from botocore.config import Config
    except ImportError as exc:
        raise NciiError(
            "s3:// blobs need boto3, which is not installed", hint="pip install 'ncii-shield[s3]'"
        ) from exc

    def make(url: str | None, path_style: bool) -> Any:
        config = Config(
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            retries={"max_attempts": ATTEMPTS, "mode": "standard"},
            s3={"addressing_style": "path"} if path_style else None,
            # integrity is AES-GCM's and the name's job; optional checksums only upset older S3 servers
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        return boto3.session.Session().client("s3", endpoint_url=url, config=config)

    client = make(endpoint, path_style=endpoint is not None)
    chosen = client.meta.endpoint_url or ""
    if endpoint is None and not chosen.split("://")[-1].split("/")[0].endswith(".amazonaws.com"):
        client = make(chosen, path_style=True)  # AWS_ENDPOINT_URL named another server
    return client


class _Missing(Exception):
    """The object is not there (S3's 404), told apart from every other failure."""


class S3BlobStore(SealedBlobs):
    """Sealed blobs as objects under a prefix of one bucket."""

    missing_hint = "the bucket is incomplete, or NCII_BLOB_URL names another bucket or prefix"

    def __init__(
        self, bucket: str, prefix: str, key_for: KeyFor, *, endpoint: str | None = None, client: Any = None
    ) -> None:
        super().__init__(key_for)
        self.bucket = bucket
        self.prefix = prefix
        self._s3 = client if client is not None else _client(endpoint)
        self.endpoint = self._s3.meta.endpoint_url

    @classmethod
    def from_settings(cls, settings: Settings, key_for: KeyFor) -> S3BlobStore:
        bucket, prefix = parse_s3_url(settings.blob_url or "")
        return cls(bucket, prefix, key_for, endpoint=settings.s3_endpoint)

    def __repr__(self) -> str:
        return f"S3BlobStore(s3://{self.bucket}/{self.prefix} at {self.endpoint})"

    def _name(self, key: str) -> str:
        namespace, digest = split_key(key)
        return f"{self.prefix}{namespace}/{digest[:2]}/{digest}"

    def _call(self, what: str, method: Callable[..., Any], **kwargs: Any) -> Any:
        """One S3 request on the bucket; its failures turned by `_errors`."""
        with self._errors(what):
            return method(Bucket=self.bucket, **kwargs)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Every S3 failure becomes an NciiError of its kind (or _Missing for a 404), in one line."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        try:
            yield
        except ClientError as exc:
            self._client_error(what, exc.response.get("Error", {}).get("Code", "?"))
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise NciiError(
                f"no S3 credentials for the blob store s3://{self.bucket}: {exc}",
                hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE); ncii-shield never "
                "stores them",
            ) from None
        except BotoCoreError as exc:  # connection refused, DNS, timeouts (after the retries)
            raise Unavailable(
                f"cannot reach the blob store at {self.endpoint}: {exc}",
                hint="check NCII_S3_ENDPOINT (or AWS_ENDPOINT_URL) and that the S3 server is up",
            ) from None

    def _client_error(self, what: str, code: str) -> NoReturn:
        where = f"s3://{self.bucket} at {self.endpoint}"
        if code in _MISSING:
            raise _Missing(code)
        if code == "NoSuchBucket":
            raise NotFound(f"the blob bucket {where} does not exist", hint="create it, or fix NCII_BLOB_URL")
        if code in _REFUSED:
            raise Forbidden(
                f"the S3 server at {self.endpoint} refused {what} in s3://{self.bucket} ({code})",
                hint=_CREDENTIALS_HINT,
            )
        raise Unavailable(
            f"the S3 server at {self.endpoint} failed {what} in s3://{self.bucket} ({code})",
            hint="try again later",
        )

    def close(self) -> None:
        self._s3.close()

    def check_reachable(self) -> None:
        """One request at opening: the bucket is there and ours to use."""
        try:
            self._call("access to the bucket", self._s3.head_bucket)
        except _Missing:
            self._client_error("access to the bucket", "NoSuchBucket")

    def _load(self, key: str) -> bytes | None:
        try:
            with self._errors("reading a blob"):  # the body is streamed: its read can fail too
                answer = self._s3.get_object(Bucket=self.bucket, Key=self._name(key))
                return bytes(answer["Body"].read())
        except _Missing:
            return None

    def _save(self, key: str, raw: bytes) -> None:
        self._call("writing a blob", self._s3.put_object, Key=self._name(key), Body=raw)

    def delete(self, key: str) -> None:
        try:
            self._call("deleting a blob", self._s3.delete_object, Key=self._name(key))
        except _Missing:
            return

    def exists(self, key: str) -> bool:
        try:
            self._call("looking up a blob", self._s3.head_object, Key=self._name(key))
        except _Missing:
            return False
        return True

    def listing(self) -> Iterator[tuple[str, float]]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        with self._errors("listing blobs"):  # pages are fetched as they are read: their errors too
            for page in pages:
                for entry in page.get("Contents", []):
                    parts = entry["Key"][len(self.prefix) :].split("/")
                    if len(parts) == 3 and is_blob_name(parts[0], parts[2]) and parts[1] == parts[2][:2]:
                        yield f"{parts[0]}/{parts[2]}", entry["LastModified"].timestamp()
