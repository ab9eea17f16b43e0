"""The `http:` section: off unless given, safe beyond loopback, errors located in the file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.config import GatewayConfig, load_config
from gateway.config.http import parse_listen
from gateway.errors import ConfigError


def _load(tmp_path: Path, http: str) -> GatewayConfig:
    path = tmp_path / "gateway.yaml"
    path.write_text("gateway: {name: g}\n" + textwrap.dedent(http), encoding="utf-8")
    return load_config(path).config


def test_off_unless_given_and_loopback_by_default(tmp_path: Path) -> None:
    assert _load(tmp_path, "").http is None
    http = _load(tmp_path, "http:\n").http
    assert http is not None
    assert (http.host, http.port, http.loopback, http.tls, http.insecure) == (
        "127.0.0.1",
        8080,
        True,
        None,
        False,
    )
    assert http.session_timeout == 1800.0


@pytest.mark.parametrize(
    ("listen", "host", "port", "loopback"),
    [
        ("127.0.0.1:0", "127.0.0.1", 0, True),
        ("127.0.0.9:80", "127.0.0.9", 80, True),
        ("[::1]:8080", "::1", 8080, True),
        ("localhost:8080", "localhost", 8080, True),
        ("0.0.0.0:8080", "0.0.0.0", 8080, False),
        ("[::]:8080", "::", 8080, False),
        ("gateway.plant.local:443", "gateway.plant.local", 443, False),
    ],
)
def test_listen_addresses(listen: str, host: str, port: int, loopback: bool) -> None:
    assert parse_listen(listen) == (host, port)
    extra = {} if loopback else {"insecure": True}
    http = GatewayConfig.model_validate(
        {"gateway": {"name": "g"}, "http": {"listen": listen, **extra}}
    ).http
    assert http is not None
    assert http.loopback is loopback


@pytest.mark.parametrize(
    ("http", "line", "words"),
    [
        ("http:\n  listen: 0.0.0.0:8080\n", 3, ("http.listen", "0.0.0.0 is reachable", "tls")),
        ("http:\n  listen: 8080\n", 3, ("http.listen", "expected HOST:PORT")),
        ("http:\n  listen: '[fe80::zz]:80'\n", 3, ("not an IPv6 address",)),
        ("http:\n  listen: 10.0.0.1:70000\n  insecure: true\n", 3, ("port must be 0..65535",)),
        (
            "http:\n  listen: 0.0.0.0:443\n  insecure: true\n  tls: {cert: a.pem, key: b.pem}\n",
            4,
            ("http.insecure", "must not be true together with tls"),
        ),
        ("http:\n  tls: {cert: a.pem}\n", 3, ("http.tls", "missing required key 'key'")),
        ("http:\n  session_timeout: 30\n", 3, ("http.session_timeout", "unit")),
        ("http:\n  listne: 127.0.0.1:80\n", 3, ("http.listne", "listen")),
    ],
)
def test_mistakes_are_located(tmp_path: Path, http: str, line: int, words: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, http)
    text = str(raised.value)
    assert f"gateway.yaml:{line}:" in text, text
    for word in words:
        assert word in text, text
