"""The one way out for requests a tenant can aim: backfill API and site URLs, outbound
subscriptions (ARCHITECTURE §4).

A tenant admin who sets a URL could otherwise make a service call what only the service
can reach — the gateway, PostgreSQL, a cloud's metadata address — and read the answer.
So every request of an :func:`egress_client` is checked by its transport: https only
(plain http only to hosts the operator lists), the host resolved once, every address it
resolves to checked, and the connection made to that checked address — no second
lookup that a rebinding DNS server could answer differently. TLS still names the host
(httpcore starts TLS with the URL's host name), so certificates are checked as usual.
Redirects go through the same transport, so every hop is checked, and they are capped.

The operator opens chosen on-premise hosts (GitLab self-managed, Jira Data Center on a
10.x address) with ``SEXTANT_EGRESS_ALLOW``: host names, addresses or networks, each
for every port or one (:class:`Allowed`); ``SEXTANT_EGRESS_ALLOW_HTTP`` lets plain http
reach them.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import httpcore
import httpx

if TYPE_CHECKING:
    from sextant.runtime.settings import RuntimeSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
"""A host name and port -> the addresses to connect to (tests give a fake one)."""

MAX_REDIRECTS = 5  # the APIs redirect once (a renamed repository), not in chains
DEFAULT_PORTS = {"https": 443, "http": 80}
LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=5)

_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known prefix: the last 32 bits are IPv4
# inet_aton's shorthands, which resolvers read as addresses: 2130706433, 0x7f.1, 0177.0.0.1
_LOOSE_IPV4 = re.compile(r"(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+)){0,3}", re.IGNORECASE)
_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")


class EgressRefused(httpx.RequestError):
    """The policy refused a request before anything was sent; the message says why,
    naming the host (never an address a name resolved to: that is the network's)."""


def refusal(address: IPAddress) -> str | None:
    """What kind of address ``address`` is when a tenant's request may not go to it
    ("loopback", "private"...), or None when it may: only globally routable unicast
    addresses pass. IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``,
    6to4, NAT64) are judged by the IPv4 address they reach."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = _carried_ipv4(address)
        if carried is not None:
            return refusal(carried)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if any(address in network for network in _PRIVATE):
        return "private"
    if address in _SHARED:
        return "shared (carrier-grade NAT)"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "special-purpose"
    return None


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, or None for a name: IPv4 or IPv6 (brackets or not),
    and the old IPv4 shorthands a resolver also reads as addresses (``2130706433``,
    ``0x7f.1``, ``127.1``, ``0177.0.0.1``) — so no spelling slips past as a "name"."""
    bare = host.removeprefix("[").removesuffix("]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    bare = bare.rstrip(".")
    if _LOOSE_IPV4.fullmatch(bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def _is_local_name(host: str) -> bool:
    """``localhost`` and its subdomains, which always mean loopback (RFC 6761)."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


@dataclass(frozen=True)
class Allowed:
    """One entry of the operator's allow-list: a host name (exactly, any address it
    resolves to), an address or a network; for every port, or for the one it names.

    Written ``gitlab.corp.example``, ``jira.corp.example:8443``, ``10.20.0.0/16``,
    ``10.20.1.5:8080``, ``fd00::/8``, ``[fd00::5]:8443``."""

    name: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    @classmethod
    def parse(cls, entry: str) -> Allowed:
        """ValueError, saying what is wrong, when ``entry`` is none of the forms above."""
        text = entry.strip().lower()
        if "/" in text:
            try:
                return cls(network=ipaddress.ip_network(text))
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not a network ({exc})") from None
        host, port = text, None
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            if rest:
                port = _port(entry, rest[1:] if rest.startswith(":") else "")
        elif text.count(":") == 1:
            host, _, number = text.partition(":")
            port = _port(entry, number)
        address = literal_address(host)
        if address is not None:
            return cls(network=ipaddress.ip_network(address), port=port)
        name = host.rstrip(".")
        if not _HOST_NAME.fullmatch(name):
            raise ValueError(f"{entry!r} is not a host name, an address or a network")
        return cls(name=name, port=port)

    def covers_name(self, host: str, port: int) -> bool:
        return self.name is not None and self.name == _name(host) and self._port_ok(port)

    def covers_address(self, address: IPAddress, port: int) -> bool:
        return self.network is not None and address in self.network and self._port_ok(port)

    def _port_ok(self, port: int) -> bool:
        return self.port is None or self.port == port


def _port(entry: str, number: str) -> int:
    if not number.isdigit() or not 0 < int(number) < 65536:
        raise ValueError(f"{entry!r} names no port from 1 to 65535")
    return int(number)


def _name(host: str) -> str:
    return host.lower().rstrip(".")


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses the system resolver gives ``host``, looked up off the event loop."""
    found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(sockaddr[0]) for *_, sockaddr in found))


@dataclass(frozen=True)
class EgressPolicy:
    """Where requests a tenant aims may go. The default is the strict one: https to
    public addresses only."""

    allowed: tuple[Allowed, ...] = ()
    allow_http: bool = False  # plain http, only to hosts on the allow-list as written
    max_redirects: int = MAX_REDIRECTS
    resolver: Resolver = resolve

    def check_url(self, url: str | httpx.URL) -> None:
        """Refuse what can be refused without a lookup: a URL that is not absolute, a
        scheme other than https (http only to a host on the allow-list, when
        :attr:`allow_http`), and a host that is a forbidden address or ``localhost``.
        Credentials are checked with this when they are set; the transport checks every
        request with it, and then the addresses a name resolves to."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise EgressRefused(f"not a URL ({exc})") from None
        # The host as it goes on the wire (IDNA): what the connection will resolve.
        host, scheme = parsed.raw_host.decode("ascii"), parsed.scheme
        if not host or not scheme:
            raise EgressRefused("not an absolute URL (https://host/...)")
        port = parsed.port or DEFAULT_PORTS.get(scheme, 0)
        address = literal_address(host)
        listed = any(
            entry.covers_name(host, port)
            or (address is not None and entry.covers_address(address, port))
            for entry in self.allowed
        )
        if scheme != "https" and not (scheme == "http" and self.allow_http and listed):
            raise EgressRefused(f"{scheme}://{host}: only https is allowed")
        if listed:
            return
        reason = refusal(address) if address is not None else None
        if reason is not None:
            raise EgressRefused(f"{host} is {_a(reason)} address")
        if address is None and _is_local_name(host):
            raise EgressRefused(f"{host} is a loopback name")

    async def addresses(self, host: str, port: int) -> Sequence[IPAddress]:
        """The addresses to connect to for ``host``, each one checked: EgressRefused when
        any is forbidden (one bad answer among good ones is not picked around — the
        next connection might get it)."""
        address = literal_address(host)
        name_listed = any(entry.covers_name(host, port) for entry in self.allowed)
        if address is None and _is_local_name(host) and not name_listed:
            raise EgressRefused(f"{host} is a loopback name")
        found = [address] if address is not None else await self.resolver(host, port)
        for each in found:
            if name_listed or any(entry.covers_address(each, port) for entry in self.allowed):
                continue
            reason = refusal(each)
            if reason is not None:
                said = "is" if address is not None else "resolves to"
                raise EgressRefused(f"{host} {said} {_a(reason)} address")
        return found


STRICT = EgressPolicy()
"""The default: https to public addresses only, nothing allowed beyond."""


def egress_policy(settings: RuntimeSettings) -> EgressPolicy:
    """The policy the deployment's settings ask for."""
    return EgressPolicy(
        allowed=tuple(Allowed.parse(entry) for entry in settings.egress_allow),
        allow_http=settings.egress_allow_http,
    )


class _CheckedNetwork(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy checked, found by one lookup per
    connection; the rest is the inner backend's."""

    def __init__(self, policy: EgressPolicy, inner: httpcore.AsyncNetworkBackend) -> None:
        self._policy, self._inner = policy, inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self._policy.addresses(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"{host}: no address within {timeout} s") from None
        except OSError:  # socket.gaierror: no such name, or the resolver is away
            raise httpcore.ConnectError(f"{host} could not be resolved") from None
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise EgressRefused("a unix socket is never a tenant's destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class EgressTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport with the policy in front: each request's URL is checked
    before it is sent, and its connection is made only to checked addresses. Never a
    proxy from the environment: a proxy would resolve and connect on our behalf."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits = LIMITS,
        network: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        ssl_context = httpx.create_ssl_context(verify=verify)  # certifi's, read once
        super().__init__(verify=ssl_context, limits=limits)
        # httpx builds its pool without a way to pass a network backend: build it again
        # with the checking one (the same options httpx gives it, proxies excluded).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_CheckedNetwork(policy, network or httpcore.AnyIOBackend()),
        )
        self._policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._policy.check_url(request.url)
        return await super().handle_async_request(request)


def egress_client(
    policy: EgressPolicy,
    *,
    verify: ssl.SSLContext | bool = True,
    network: httpcore.AsyncNetworkBackend | None = None,
    limits: httpx.Limits = LIMITS,
    **options: Any,
) -> httpx.AsyncClient:
    """An httpx client for URLs a tenant set: every request, each redirect hop and an
    auth flow's own requests included, passes ``policy``. ``options`` are the client's
    (base_url, headers, auth, timeout, follow_redirects...); ``network`` replaces the
    sockets underneath, for tests that must see no connection made; ``limits`` bound its
    connection pool (a client that many receivers share needs more than the default)."""
    if "mounts" in options or "transport" in options:
        raise TypeError("an egress client has its own transport; mounts would bypass it")
    options.setdefault("max_redirects", policy.max_redirects)
    transport = EgressTransport(policy, verify=verify, limits=limits, network=network)
    return httpx.AsyncClient(transport=transport, trust_env=False, **options)
