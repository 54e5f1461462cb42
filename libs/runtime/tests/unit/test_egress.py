"""The egress policy's judgements without a network: which addresses a tenant's URL may
reach, how hosts are read (every spelling of an address is one), the allow-list's
forms, and what a URL is refused for before any lookup."""

from __future__ import annotations

import ipaddress
import re

import pytest
from pydantic import ValidationError

from sextant.runtime.egress import (
    Allowed,
    EgressPolicy,
    EgressRefused,
    IPAddress,
    egress_policy,
    literal_address,
    refusal,
)
from sextant.runtime.settings import RuntimeSettings


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.254.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("fd00::5", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("100.127.255.254", "shared (carrier-grade NAT)"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("0.1.2.3", "special-purpose"),  # "this network"
        ("192.0.2.10", "special-purpose"),  # documentation
        ("198.18.0.1", "special-purpose"),  # benchmarking
        ("2001:db8::1", "special-purpose"),  # documentation
        ("2001::1", "special-purpose"),  # Teredo: the IPv4 inside is obfuscated
        # IPv6 forms that reach an IPv4 address are judged by that address
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.1.2.3", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
        ("::127.0.0.1", "reserved"),  # the deprecated IPv4-compatible form
        # public: allowed
        ("8.8.8.8", None),
        ("140.82.112.3", None),  # api.github.com
        ("100.63.255.255", None),  # just below the shared range
        ("172.32.0.1", None),  # just above 172.16/12
        ("2606:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
    ],
)
def test_addresses_are_judged_by_what_they_reach(address: str, kind: str | None) -> None:
    assert refusal(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # one 32-bit number
        ("0x7f000001", "127.0.0.1"),
        ("0x7F.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),  # octal
        ("0177.0.0.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("169.254.169.254.", "169.254.169.254"),  # a trailing dot, as in a FQDN
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("api.github.com", None),
        ("cafe.be", None),  # hex letters, still a name
        ("1.2.3.4.5", None),
        ("99999999999", None),  # too big to be an address
    ],
)
def test_every_spelling_of_an_address_is_read_as_that_address(
    host: str, address: str | None
) -> None:
    expected: IPAddress | None = ipaddress.ip_address(address) if address else None
    assert literal_address(host) == expected


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://api.github.com", "only https is allowed"),
        ("ftp://gitlab.example/", "only https is allowed"),
        ("https://localhost", "localhost is a loopback name"),
        ("https://LOCALHOST./api", "is a loopback name"),
        ("https://gitlab.localhost", "is a loopback name"),
        ("https://169.254.169.254/latest/meta-data/", "is a link-local address"),
        ("https://[::1]:8080/", "::1 is a loopback address"),
        ("https://[::ffff:127.0.0.1]/", "is a loopback address"),
        ("https://0.0.0.0/", "is an unspecified address"),
        ("https://2130706433/", "2130706433 is a loopback address"),
        ("https://0x7f.1/", "is a loopback address"),
        ("https://10.1.2.3/api/v4", "10.1.2.3 is a private address"),
        ("https://100.100.100.200/", "is a shared (carrier-grade NAT) address"),
        ("gitlab.example/api/v4", "not an absolute URL"),
        ("https://", "not an absolute URL"),
    ],
)
def test_a_url_is_refused_before_any_lookup_when_its_scheme_or_host_says_enough(
    url: str, says: str
) -> None:
    with pytest.raises(EgressRefused, match=re.escape(says)):
        EgressPolicy().check_url(url)


@pytest.mark.parametrize(
    "url", ["https://api.github.com", "https://gitlab.com/api/v4", "https://8.8.8.8/"]
)
def test_https_to_a_public_host_passes_the_static_check(url: str) -> None:
    EgressPolicy().check_url(url)  # no exception


ON_PREMISE = EgressPolicy(
    allowed=(
        Allowed.parse("gitlab.corp.example"),
        Allowed.parse("jira.corp.example:8443"),
        Allowed.parse("10.20.0.0/16"),
        Allowed.parse("[fd00::5]:8080"),
        Allowed.parse("xn--bcher-kva.example"),
    ),
    allow_http=True,
)


@pytest.mark.parametrize(
    ("url", "passes"),
    [
        ("http://gitlab.corp.example/api/v4", True),
        ("http://GITLAB.corp.example./api/v4", True),  # names compare as DNS does
        ("http://jira.corp.example:8443/", True),
        ("http://jira.corp.example/", False),  # port 80, not the one listed
        ("http://10.20.1.5/", True),
        ("https://10.20.1.5/", True),
        ("http://10.21.0.1/", False),
        ("https://10.21.0.1/", False),  # private, not listed
        ("http://[fd00::5]:8080/", True),
        ("http://[fd00::5]:8081/", False),
        ("http://bücher.example/", True),  # listed as DNS has it (IDNA)
        ("http://other.example/", False),  # plain http only to listed hosts
        ("ftp://gitlab.corp.example/", False),
        ("https://localhost/", False),
    ],
)
def test_the_allow_list_opens_exactly_what_it_names(url: str, passes: bool) -> None:
    if passes:
        ON_PREMISE.check_url(url)
    else:
        with pytest.raises(EgressRefused):
            ON_PREMISE.check_url(url)


def test_plain_http_stays_refused_for_listed_hosts_unless_allowed() -> None:
    policy = EgressPolicy(allowed=(Allowed.parse("10.20.0.0/16"),))
    policy.check_url("https://10.20.1.5/")
    with pytest.raises(EgressRefused, match="only https"):
        policy.check_url("http://10.20.1.5/")


@pytest.mark.parametrize(
    ("entry", "allowed"),
    [
        ("gitlab.corp.example", Allowed(name="gitlab.corp.example")),
        (" Jira.Corp.Example:8443 ", Allowed(name="jira.corp.example", port=8443)),
        ("10.20.0.0/16", Allowed(network=ipaddress.ip_network("10.20.0.0/16"))),
        ("10.20.1.5:8080", Allowed(network=ipaddress.ip_network("10.20.1.5/32"), port=8080)),
        ("127.0.0.1", Allowed(network=ipaddress.ip_network("127.0.0.1/32"))),
        ("fd00::/8", Allowed(network=ipaddress.ip_network("fd00::/8"))),
        ("fd00::5", Allowed(network=ipaddress.ip_network("fd00::5/128"))),
        ("[fd00::5]:8443", Allowed(network=ipaddress.ip_network("fd00::5/128"), port=8443)),
    ],
)
def test_allow_list_entries_are_read_in_each_form(entry: str, allowed: Allowed) -> None:
    assert Allowed.parse(entry) == allowed


@pytest.mark.parametrize(
    "entry", ["", "10.0.0.1/8", "gitlab.corp:0", "gitlab.corp:http", "[fd00::5]x", "a b", "*.corp"]
)
def test_a_malformed_allow_list_entry_is_refused(entry: str) -> None:
    with pytest.raises(ValueError):
        Allowed.parse(entry)


def test_the_allow_list_setting_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEXTANT_EGRESS_ALLOW", "gitlab.corp.example, 10.20.0.0/16,[fd00::5]:8443")
    monkeypatch.setenv("SEXTANT_EGRESS_ALLOW_HTTP", "true")
    policy = egress_policy(RuntimeSettings())
    assert policy.allow_http is True
    assert policy.allowed == (
        Allowed(name="gitlab.corp.example"),
        Allowed(network=ipaddress.ip_network("10.20.0.0/16")),
        Allowed(network=ipaddress.ip_network("fd00::5/128"), port=8443),
    )


def test_by_default_nothing_is_allowed_beyond_public_https() -> None:
    policy = egress_policy(RuntimeSettings())
    assert (policy.allowed, policy.allow_http) == ((), False)


def test_a_typo_in_the_allow_list_fails_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEXTANT_EGRESS_ALLOW", "gitlab.corp.example,10.0.0.1/8")
    with pytest.raises(ValidationError, match=re.escape("10.0.0.1/8")):
        RuntimeSettings()
