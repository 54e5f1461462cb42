"""Kafka over TLS and SASL: the settings give every client (producer, consumers, admin)
the same security options, and a SASL protocol without its credentials fails the start."""

from __future__ import annotations

import ssl

import pytest
from pydantic import ValidationError

from sextant.runtime.settings import RuntimeSettings


def test_plaintext_by_default() -> None:
    assert RuntimeSettings().kafka_client_options() == {"security_protocol": "PLAINTEXT"}


def test_sasl_over_tls_gives_mechanism_credentials_and_a_tls_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEXTANT_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("SEXTANT_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("SEXTANT_KAFKA_SASL_USERNAME", "sextant")
    monkeypatch.setenv("SEXTANT_KAFKA_SASL_PASSWORD", "s3cret")
    options = RuntimeSettings().kafka_client_options()
    context = options.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "sextant",
        "sasl_plain_password": "s3cret",
    }


def test_sasl_without_credentials_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEXTANT_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("SEXTANT_KAFKA_SASL_MECHANISM", "PLAIN")
    with pytest.raises(ValidationError, match="SEXTANT_KAFKA_SASL_PASSWORD"):
        RuntimeSettings()


def test_a_missing_ca_bundle_fails_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEXTANT_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("SEXTANT_KAFKA_SSL_CAFILE", "/nonexistent/ca.crt")
    with pytest.raises(FileNotFoundError):
        RuntimeSettings().kafka_client_options()
