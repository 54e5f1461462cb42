"""The egress client over real loopback sockets: what it refuses is refused before a
connection is made, names are resolved once and the connection goes to the address that
was checked, and every redirect hop is checked again.

Nothing here connects beyond loopback: destinations that are not loopback are reached
only through a fake resolver and a recording network backend that opens no socket."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
import pytest

from sextant.runtime.egress import (
    MAX_REDIRECTS,
    Allowed,
    EgressPolicy,
    EgressRefused,
    IPAddress,
    egress_client,
)


@dataclass
class Listener:
    """A loopback HTTP/1.1 server that counts connections and answers each request
    with what ``answer`` makes of its path: a status and headers."""

    answer: Callable[[str], tuple[int, dict[str, str]]]
    port: int = 0
    connections: int = 0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            writer.close()
            return
        request_line, *lines = head.decode("latin-1").split("\r\n")
        path = request_line.split(" ")[1]
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines if h)
        }
        self.requests.append((path, headers))
        status, extra = self.answer(path)
        reply = f"HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n"
        reply += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
        writer.write(reply.encode() + b"\r\nok")
        await writer.drain()
        writer.close()


@asynccontextmanager
async def listening(answer: Callable[[str], tuple[int, dict[str, str]]]) -> AsyncIterator[Listener]:
    listener = Listener(answer)
    server = await asyncio.start_server(listener.serve, "127.0.0.1", 0)
    listener.port = server.sockets[0].getsockname()[1]
    try:
        yield listener
    finally:
        server.close()
        await server.wait_closed()


def ok(path: str) -> tuple[int, dict[str, str]]:
    return 200, {}


class FakeResolver:
    """Made-up names with the answers a DNS server could give; records what it was asked."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers, self.asked = answers, list[str]()

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(a) for a in self.answers[host]]


class NoSockets(httpcore.AsyncNetworkBackend):
    """Records each connection asked for and opens none: a TLS start records the name
    it would verify, then the attempt ends."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self.tls_names: list[str | None] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        return _Unconnected(self)


class _Unconnected(httpcore.AsyncNetworkStream):
    def __init__(self, backend: NoSockets) -> None:
        self._backend = backend

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        self._backend.tls_names.append(server_hostname)
        raise httpcore.ConnectError("no sockets in this test")

    async def aclose(self) -> None:
        pass


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",
        "https://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "https://localhost:{port}/",
        "http://2130706433:{port}/",
        "https://0x7f.1:{port}/",
        "https://[::ffff:127.0.0.1]:{port}/",
    ],
)
async def test_a_loopback_listener_gets_no_connection_from_the_default_policy(url: str) -> None:
    async with listening(ok) as listener, egress_client(EgressPolicy()) as client:
        with pytest.raises(EgressRefused):
            await client.get(url.format(port=listener.port))
    assert listener.connections == 0


@pytest.mark.parametrize(
    ("answers", "kind"),
    [
        (["10.0.0.1"], "private"),
        (["169.254.169.254"], "link-local"),
        (["8.8.8.8", "10.0.0.1"], "private"),  # one bad answer among good ones
        (["fd00::1"], "private"),
        (["::ffff:127.0.0.1"], "loopback"),
    ],
)
async def test_a_name_that_resolves_to_a_forbidden_address_is_refused_before_connecting(
    answers: list[str], kind: str
) -> None:
    resolver = FakeResolver({"gitlab.corp.test": answers})
    network = NoSockets()
    async with egress_client(EgressPolicy(resolver=resolver), network=network) as client:
        with pytest.raises(EgressRefused, match=f"gitlab.corp.test resolves to a {kind} address"):
            await client.get("https://gitlab.corp.test/api/v4/projects")
    assert resolver.asked == ["gitlab.corp.test"]
    assert network.connects == []


async def test_the_connection_goes_to_the_checked_address_and_tls_names_the_host() -> None:
    resolver = FakeResolver({"api.example.test": ["8.8.8.8"]})
    network = NoSockets()
    async with egress_client(EgressPolicy(resolver=resolver), network=network) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("https://api.example.test/repos")
    assert resolver.asked == ["api.example.test"]  # one lookup, none by the socket layer
    assert network.connects == [("8.8.8.8", 443)]
    assert network.tls_names == ["api.example.test"]


async def test_a_listed_name_reaches_the_address_it_resolved_to_with_its_own_host_header() -> None:
    async with listening(ok) as listener:
        resolver = FakeResolver({"gitlab.corp.test": ["127.0.0.1"]})
        policy = EgressPolicy(
            allowed=(Allowed.parse(f"127.0.0.1:{listener.port}"),),
            allow_http=False,
            resolver=resolver,
        )
        async with egress_client(policy) as client:
            with pytest.raises(EgressRefused, match="only https"):
                await client.get(f"http://gitlab.corp.test:{listener.port}/")
        policy = EgressPolicy(
            allowed=(Allowed.parse(f"gitlab.corp.test:{listener.port}"),),
            allow_http=True,
            resolver=resolver,
        )
        async with egress_client(policy) as client:
            response = await client.get(f"http://gitlab.corp.test:{listener.port}/api/v4")
    assert response.status_code == 200
    # The system resolver knows no such name: the fake's address was the one connected to.
    assert listener.requests == [
        ("/api/v4", listener.requests[0][1] | {"host": f"gitlab.corp.test:{listener.port}"})
    ]
    assert listener.connections == 1


class LoopbackOnly(httpcore.AsyncNetworkBackend):
    """Real sockets to 127.0.0.1 only; any other connection is recorded and refused, so a
    test that goes wrong still sends nothing beyond loopback."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        if host != "127.0.0.1":
            raise httpcore.ConnectError(f"{host} is beyond loopback")
        return await self._real.connect_tcp(host, port, timeout=timeout)


@pytest.mark.parametrize(
    "target",
    [
        "https://127.0.0.1:{port}/internal",  # loopback, but another port than the listed one
        "http://127.0.0.1:{port}/internal",
        "http://localhost:{port}/internal",
        "https://169.254.169.254/latest/meta-data/",
    ],
)
async def test_a_redirect_off_the_allow_list_is_refused_and_never_reached(target: str) -> None:
    async with listening(ok) as elsewhere:
        location = target.format(port=elsewhere.port)
        async with listening(lambda path: (302, {"location": location})) as allowed:
            policy = EgressPolicy(
                allowed=(Allowed.parse(f"127.0.0.1:{allowed.port}"),), allow_http=True
            )
            network = LoopbackOnly()
            async with egress_client(policy, network=network, follow_redirects=True) as client:
                with pytest.raises(EgressRefused):
                    await client.get(f"http://127.0.0.1:{allowed.port}/start")
    assert [path for path, _ in allowed.requests] == ["/start"]
    assert network.connects == [("127.0.0.1", allowed.port)]
    assert elsewhere.connections == 0


async def test_redirects_are_followed_only_so_far() -> None:
    async with listening(lambda path: (302, {"location": path})) as looping:
        policy = EgressPolicy(
            allowed=(Allowed.parse(f"127.0.0.1:{looping.port}"),), allow_http=True
        )
        async with egress_client(policy, follow_redirects=True) as client:
            with pytest.raises(httpx.TooManyRedirects):
                await client.get(f"http://127.0.0.1:{looping.port}/again")
    assert len(looping.requests) == 1 + MAX_REDIRECTS


async def test_an_unknown_name_is_a_connection_error_not_a_refusal() -> None:
    network = NoSockets()
    policy = EgressPolicy(resolver=FakeResolver({}))
    async with egress_client(policy, network=network) as client:
        with pytest.raises(httpx.ConnectError, match="could not be resolved"):
            await client.get("https://nowhere.test/")
    assert network.connects == []


def test_an_egress_client_cannot_be_given_a_transport_that_bypasses_it() -> None:
    with pytest.raises(TypeError):
        egress_client(EgressPolicy(), mounts={"all://": httpx.AsyncHTTPTransport()})
