"""core.urls: the one base-URL rule that the transport and the journal share."""

from __future__ import annotations

import pytest

from videogen_nb.core.urls import (
    gateway_root,
    is_loopback_host,
    is_same_origin,
    normalize_base_url,
    redact_url,
)
from videogen_nb.http.transport import Transport

SAME_GATEWAY = [
    "https://gw.example",
    "https://gw.example/",
    "https://gw.example/v1",
    "https://gw.example/v1/",
    "https://gw.example/v1//",
    "HTTPS://GW.Example/v1",
    "  https://Gw.example/  ",
]


@pytest.mark.parametrize("given", SAME_GATEWAY)
def test_every_spelling_of_a_gateway_is_one_root(given: str) -> None:
    assert normalize_base_url(given) == "https://gw.example"
    assert gateway_root(given) == "https://gw.example"
    assert Transport(given, None).base_url == "https://gw.example"


@pytest.mark.parametrize(
    "given",
    [
        "http://127.0.0.1:8000/v1/",
        "https://h.example/api/v1",
        "https://h.example/api",
        "https://H.example:8443/v1x/",
        "http://[::1]:9000/",
    ],
)
def test_transport_and_journal_rules_agree(given: str) -> None:
    # what the transport keeps as base_url is a fixed point of the journal's key rule
    root = normalize_base_url(given)
    assert gateway_root(given) == root
    assert gateway_root(root) == root


def test_gateway_root_is_lenient_and_drops_credentials() -> None:
    assert gateway_root("http://user:pass@Host:8080/v1/?key=x#f") == "http://host:8080"
    assert gateway_root("user:secret@host:1/x/") == "host:1/x"
    assert "secret" not in gateway_root("not a url user:secret@h?token=1")


def test_normalize_base_url_refuses_credentials_without_echoing_them() -> None:
    from videogen_nb.core.errors import ValidationError

    with pytest.raises(ValidationError) as info:
        normalize_base_url("https://user:hunter2@h.example/v1")
    assert "hunter2" not in str(info.value)


def test_redact_and_origin() -> None:
    assert redact_url("https://u:p@cdn.example/v.mp4?sig=1#x") == "https://cdn.example/v.mp4?…"
    assert redact_url("https://cdn.example/v.mp4") == "https://cdn.example/v.mp4"
    assert is_same_origin("https://h.example/v1/x", "https://H.example:443/")
    assert not is_same_origin("https://h.example", "https://h.example:8443")
    assert is_loopback_host("localhost") and is_loopback_host("[::1]")
    assert is_loopback_host("127.0.0.2") and not is_loopback_host("example.com")
    assert not is_loopback_host(None)
