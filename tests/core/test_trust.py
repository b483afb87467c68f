"""Which certificate authorities libcurl is told to trust: a pure decision, tested without disk."""

from __future__ import annotations

from typing import Optional

from fetchq._trust import joined_bundles, trust_settings


def decide(
    environ: dict[str, str],
    files: set[str],
    folders: set[str] = frozenset(),  # type: ignore[assignment]
    platform: str = "linux",
    extra: Optional[str] = None,
) -> tuple[tuple[str, ...], Optional[str], bool]:
    trust = trust_settings(
        environ, files.__contains__, folders.__contains__, platform, lambda: "/certifi.pem", extra
    )
    return trust.bundles, trust.directory, trust.native


def test_debian_uses_its_bundle_and_folder() -> None:
    assert decide({}, {"/etc/ssl/certs/ca-certificates.crt"}, {"/etc/ssl/certs"}) == (
        ("/etc/ssl/certs/ca-certificates.crt",),
        "/etc/ssl/certs",
        False,
    )


def test_fedora_uses_its_bundle() -> None:
    assert decide({}, {"/etc/pki/tls/certs/ca-bundle.crt"})[0] == (
        "/etc/pki/tls/certs/ca-bundle.crt",
    )


def test_a_company_bundle_is_added_to_the_system_store_not_instead() -> None:
    system = "/etc/ssl/certs/ca-certificates.crt"
    bundles, _folder, _native = decide(
        {"REQUESTS_CA_BUNDLE": "/corp/ca.pem", "SSL_CERT_FILE": "/corp/openssl.pem"},
        {system},
        extra="/app/extra.pem",
    )
    assert bundles == (system, "/corp/openssl.pem", "/corp/ca.pem", "/app/extra.pem")


def test_requests_reads_requests_ca_bundle_before_curl_ca_bundle() -> None:
    bundles = decide({"REQUESTS_CA_BUNDLE": "/a.pem", "CURL_CA_BUNDLE": "/b.pem"}, set())[0]
    assert "/a.pem" in bundles
    assert "/b.pem" not in bundles


def test_without_a_system_store_certifi_is_used() -> None:
    assert decide({}, set()) == (("/certifi.pem",), None, False)


def test_windows_and_macos_use_the_native_store() -> None:
    assert decide({}, set(), platform="win32") == ((), None, True)
    assert decide({"SSL_CERT_FILE": "/corp.pem"}, set(), platform="darwin") == (
        ("/corp.pem",),
        None,
        True,
    )


def test_bundles_are_joined_and_missing_ones_skipped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first, second = tmp_path / "a.pem", tmp_path / "b.pem"
    first.write_bytes(b"-----A-----\n")
    second.write_bytes(b"-----B-----")
    assert joined_bundles([str(first), str(tmp_path / "gone.pem"), str(second)]) == (
        b"-----A-----\n-----B-----\n"
    )
