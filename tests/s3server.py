"""A real S3 server on loopback for the blob tests: moto's, over real HTTP, checking every request's SigV4
signature against an IAM access key it issued (a wrong secret is refused as S3 refuses it). Fixtures `s3`
and `s3_env`: a test module imports s3_fixture and s3_env_fixture.

Why not MinIO: its server is in neither PyPI nor Debian (a binary download, which this project's machines
cannot fetch) and is AGPL. moto's server speaks the same S3 REST protocol boto3 uses against AWS or MinIO.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

BUCKET = "ncii-blobs"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str

    def env(self) -> dict[str, str]:
        """The standard AWS variables a process needs to use this server (never NCII_* settings)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self, secret_key: str | None = None) -> Any:
        import boto3.session

        session = boto3.session.Session(
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name=REGION,
        )
        return session.client("s3", endpoint_url=self.endpoint)

    def new_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object in the bucket and its raw bytes, as someone with bucket access sees them."""
        s3 = self.client()
        names = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])
        ]
        return {n: s3.get_object(Bucket=bucket, Key=n)["Body"].read() for n in names}


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """moto's server on a free loopback port, with authentication on after it has issued one access key."""
    moto_server = pytest.importorskip("moto.server")
    from moto import settings as moto_settings
    from moto.core.authorization import ActionAuthenticatorMixin

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines in the test output
    saved = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 4  # the four IAM calls below; every later request is signed
    ActionAuthenticatorMixin.request_count = 0
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        import boto3.session

        bootstrap = boto3.session.Session(
            aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap", region_name=REGION
        )
        iam = bootstrap.client("iam", endpoint_url=endpoint)
        iam.create_user(UserName="ncii")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        arn = iam.create_policy(PolicyName="blobs", PolicyDocument=json.dumps(policy))["Policy"]["Arn"]
        iam.attach_user_policy(UserName="ncii", PolicyArn=arn)
        key = iam.create_access_key(UserName="ncii")["AccessKey"]
        yield S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        server.stop()
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = saved


_running: list[S3Server] = []


@pytest.fixture(scope="session", name="s3")
def s3_fixture() -> S3Server:
    """One server for the whole test process (moto keeps its buckets and users process-wide), stopped
    when the process exits; each test makes its own bucket."""
    if not _running:
        import atexit
        from contextlib import ExitStack

        stack = ExitStack()
        _running.append(stack.enter_context(s3_server()))
        atexit.register(stack.close)
    return _running[0]


@pytest.fixture(name="s3_env")
def s3_env_fixture(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The AWS credentials in this process's environment (boto3's standard chain reads them)."""
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return s3
