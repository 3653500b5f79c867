"""Webhooks cannot reach the internal network (issue 11, §2).

The address check over whole classes of spellings (Hypothesis: random private and public IPv4
addresses, written in every IPv4 spelling and embedded in every IPv6 transition form; DNS answers
mixing public and private addresses), then the worker against real sockets: a loopback HTTP server
stands for the internal service that must never receive a request, a DNS that answers a public address
then 127.0.0.1 (rebinding), redirects, TLS with the original host name, and what a failing target says
never stored."""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address, IPv6Address, ip_network
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.webhooks import targets
from app.webhooks.models import WebhookAttempt, WebhookDelivery
from app.webhooks.targets import TargetRefused
from tests.support.api import API, create_project
from tests.support.webhooks import Receiver, RoutingBackend, ScriptedDns, configure, deliveries, subscribe, worker

# Written here from the RFCs (not imported from the code under test): what must never be a target.
PRIVATE_V4 = [
    ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relays
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
    )
]


private_v4 = st.sampled_from(PRIVATE_V4).flatmap(
    lambda n: st.integers(int(n.network_address), int(n.broadcast_address)).map(IPv4Address)
)


public_v4 = (
    st.integers(0x01000000, 0xDFFFFFFF)
    .map(IPv4Address)
    .filter(lambda ip: ip.is_global and not any(ip in n for n in PRIVATE_V4))
)


public_v6 = (
    st.integers(0x2400 << 112, (0x2C00 << 112) - 1)  # allocated to the regional registries
    .map(IPv6Address)
    .filter(lambda ip: ip.is_global and ip.sixtofour is None and ip.teredo is None)
)


FULL_WIDTH = str.maketrans("0123456789.", "０１２３４５６７８９。")


def ipv4_spellings(ip: IPv4Address) -> dict[str, str]:
    """Every way a C resolver or a browser reads `ip` (inet_aton forms, IDNA full-width, trailing dot)."""
    v = int(ip)
    a, b, c, d = ip.packed
    return {
        "pointée": str(ip),
        "entier décimal": str(v),
        "entier hexadécimal": hex(v),
        "entier hexadécimal majuscule": f"0X{v:X}",
        "entier octal": f"0{v:o}",
        "octale pointée": ".".join(f"0{x:o}" for x in (a, b, c, d)),
        "hexadécimale pointée": ".".join(hex(x) for x in (a, b, c, d)),
        "courte a.b": f"{a}.{(b << 16) | (c << 8) | d}",
        "courte a.b.c": f"{a}.{b}.{(c << 8) | d}",
        "mélangée": f"{hex(a)}.{b}.0{c:o}.{d}",
        "point final": f"{ip}.",
        "pleine chasse (IDNA)": str(ip).translate(FULL_WIDTH),
    }


def ipv6_forms(ip: IPv4Address, server: IPv4Address, noise: int) -> dict[str, str]:
    """`ip` carried by every IPv6 transition form (Teredo through `server`), in several spellings."""
    v = int(ip)
    hi, lo = v >> 16, v & 0xFFFF
    s_hi, s_lo = int(server) >> 16, int(server) & 0xFFFF
    n1, n2 = noise & 0xFFFF, (noise >> 16) & 0xFFFF
    return {
        "IPv4 mappée": f"::ffff:{ip}",
        "IPv4 mappée en hexadécimal": f"::ffff:{hi:x}:{lo:x}",
        "IPv4 mappée développée": f"0:0:0:0:0:FFFF:{hi:04X}:{lo:04X}",
        "IPv4 traduite": f"::ffff:0:{ip}",
        "IPv4 compatible": f"::{ip}",
        "NAT64": f"64:ff9b::{ip}",
        "NAT64 développée": f"0064:ff9b:0:0:0:0:{hi:x}:{lo:x}",
        "6to4": f"2002:{hi:x}:{lo:x}:{n1:x}::{n2:x}",
        "Teredo": f"2001:0:{s_hi:x}:{s_lo:x}:{n1 & 0x8000:x}:{n2:x}:{hi ^ 0xFFFF:x}:{lo ^ 0xFFFF:x}",
        "ISATAP": f"2a00:1450:4007:{n1:x}:0:5efe:{ip}",
        "ISATAP global": f"2a00:1450:4007:{n1:x}:200:5efe:{hi:x}:{lo:x}",
    }


def no_dns(host: str, port: int) -> list[Any]:
    raise AssertionError(f"an address literal must not be resolved (asked for {host})")


@contextmanager
def dns(resolver: Any) -> Iterator[Any]:
    saved = targets.resolver
    targets.resolver = resolver
    try:
        yield resolver
    finally:
        targets.resolver = saved


def refused(url: str) -> str:
    with pytest.raises(TargetRefused) as info:
        targets.resolve(url, allow_private=False)
    return info.value.message


# --- the check over whole classes --------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(ip=private_v4, port=st.integers(1, 65535))
def test_every_spelling_of_a_private_ipv4_is_refused(ip: IPv4Address, port: int) -> None:
    with dns(no_dns):
        for style, host in ipv4_spellings(ip).items():
            message = refused(f"http://{host}:{port}/hook")
            assert str(ip) in message, (style, host, message)
            assert refused(f"https://{host}/hook")


@settings(max_examples=300, deadline=None)
@given(ip=public_v4, port=st.integers(1, 65535))
def test_every_spelling_of_a_public_ipv4_is_that_address(ip: IPv4Address, port: int) -> None:
    with dns(no_dns):
        for style, host in ipv4_spellings(ip).items():
            target = targets.resolve(f"http://{host}:{port}/hook?x=1", allow_private=False)
            assert target.addresses == (str(ip),), style
            assert target.url == f"http://{ip}:{port}/hook?x=1", style  # what is requested is what was checked


@settings(max_examples=300, deadline=None)
@given(ip=private_v4, server=public_v4, noise=st.integers(0, 2**32 - 1))
def test_a_private_ipv4_inside_any_ipv6_form_is_refused(ip: IPv4Address, server: IPv4Address, noise: int) -> None:
    with dns(no_dns):
        for form, v6 in ipv6_forms(ip, server, noise).items():
            message = refused(f"http://[{v6}]:8443/hook")
            assert str(IPv6Address(v6)) in message, (form, v6, message)
            assert str(ip) in message or int(IPv6Address(v6)) <= 1, (form, v6, message)  # ::0.0.0.1 is ::1


@settings(max_examples=300, deadline=None)
@given(ip=public_v4, server=public_v4, noise=st.integers(0, 2**32 - 1))
def test_a_public_ipv4_inside_an_ipv6_form_is_accepted(ip: IPv4Address, server: IPv4Address, noise: int) -> None:
    with dns(no_dns):
        for form, v6 in ipv6_forms(ip, server, noise).items():
            target = targets.resolve(f"http://[{v6}]/hook", allow_private=False)
            assert target.addresses == (str(IPv6Address(v6)),), form


@settings(max_examples=100, deadline=None)
@given(ip=st.one_of(private_v4, public_v4), subnet=st.integers(0, 0xFFFF))
def test_local_use_nat64_is_refused_whatever_it_carries(ip: IPv4Address, subnet: int) -> None:
    """64:ff9b:1::/48 (RFC 8215) is for one site's own translators, and where the IPv4 address sits in it
    depends on that site's prefix length: never a public target."""
    with dns(no_dns):
        assert "NAT64 à usage local" in refused(f"http://[64:ff9b:1:{subnet:x}::{ip}]/")


@settings(max_examples=200, deadline=None)
@given(
    v6=st.one_of(
        *(
            st.integers(int(n.network_address), int(n.broadcast_address)).map(IPv6Address)
            for n in map(
                ip_network,
                ("::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "2001:db8::/32", "100::/64", "3fff::/20"),
            )
        )
    )
)
def test_private_and_reserved_ipv6_are_refused(v6: IPv6Address) -> None:
    with dns(no_dns):
        assert f"({v6}) : refusé." in refused(f"http://[{v6}]/")


@settings(max_examples=200, deadline=None)
@given(
    public=st.lists(st.one_of(public_v4, public_v6), min_size=1, max_size=3, unique=True),
    private=st.one_of(private_v4, private_v4.map(lambda ip: IPv6Address(f"::ffff:{ip}"))),
    position=st.integers(0, 3),
)
def test_a_name_is_refused_if_any_of_its_addresses_is_private(
    public: list[IPv4Address | IPv6Address], private: IPv4Address | IPv6Address, position: int
) -> None:
    answers = [str(ip) for ip in public]
    with dns(ScriptedDns({"partenaire.example": [answers]})) as resolver:
        target = targets.resolve("https://partenaire.example/hook", allow_private=False)
        assert target.addresses == tuple(answers) and target.host == "partenaire.example"
        mixed = [*answers[:position], str(private), *answers[position:]]
        resolver.answers["partenaire.example"].append(mixed)
        resolver.answers["partenaire.example"].popleft()
        assert str(private) in refused("https://partenaire.example/hook")
        assert resolver.calls == ["partenaire.example"] * 2  # one resolution per check


@pytest.mark.parametrize(
    "url",
    [
        "http://partenaire.example@127.0.0.1/",  # userinfo: the host is 127.0.0.1
        "http://127.0.0.1@partenaire.example/",
        "http://127.0.0.1%2f@partenaire.example/",
        "http://partenaire.example\\@127.0.0.1/",  # WHATWG reads \\ as /, RFC 3986 as userinfo
        "http://127.0.0.1#@partenaire.example/",
        "http://127.0.0.1?@partenaire.example/",
        "http://%31%32%37.0.0.1/",
        "http://localhost/",
        "http://LOCALHOST./",
        "http://api.localhost/",
        "http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/",
        "http://[::1%25eth0]/",
        "http://[fe80::1%25eth0]/",
        "http://[::1]/",
        "http://[::]/",
        "http://[127.0.0.1]/",
        "http://0/",
        "http://0x/",
        "http://1.2.3.4.5/",
        "http://256.0.0.1/",
        "http://08.0.0.1/",
        "http://partenaire.123/",
        "http://partenaire.example../",
        "http://partenaire.example:0/",
        "http://partenaire.example:65536/",
        "http://partenaire.example:8O/",
        "http://partenaire.example:٨٠/",
        "http:///hook",
        "http://partenaire .example/",
        "http://partenaire.example/\x00",
        "file:///etc/passwd",
        "gopher://partenaire.example/",
        "ftp://partenaire.example/",
        "javascript:alert(1)",
        "//partenaire.example/hook",
        "partenaire.example/hook",
    ],
)
def test_url_tricks_are_refused(url: str) -> None:
    with dns(ScriptedDns({"partenaire.example": ["93.184.215.14"], "localhost": ["93.184.215.14"]})) as resolver:
        message = refused(url)
        assert message and message[0].isupper(), message  # one French sentence
        assert "localhost" not in resolver.calls  # refused as the local machine before any DNS


def test_public_names_and_ports_are_accepted_as_written() -> None:
    with dns(ScriptedDns({"xn--bcher-kva.example": ["93.184.215.14"], "partenaire.example": ["2606:2800::1"]})):
        target = targets.resolve("https://Bücher.example./hook?a=1#fragment", allow_private=False)
        assert (target.url, target.host, target.port) == (
            "https://xn--bcher-kva.example/hook?a=1",
            "xn--bcher-kva.example",
            443,
        )
        target = targets.resolve("http://partenaire.example:8080", allow_private=False)
        assert (target.url, target.addresses, target.port) == (
            "http://partenaire.example:8080/",
            ("2606:2800::1",),
            8080,
        )


# --- the worker, real sockets --------------------------------------------------------------------------
@pytest.fixture
def internal() -> Iterator[Receiver]:
    """The internal service: an HTTP server on loopback that must never receive a request."""
    r = Receiver()
    yield r
    r.close()


def _attempts(client: Any, delivery_id: int) -> list[dict[str, Any]]:
    r = client.get(f"{API}/webhooks/deliveries/{delivery_id}/attempts")
    assert r.status_code == 200, r.text
    return r.json()["attempts"]


def test_dns_rebinding_connects_to_the_checked_address(
    app, client, internal: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name answers a public address, then 127.0.0.1: the attempt resolves once, connects to the
    public address it checked (here routed to a loopback server standing for the internet), and the
    internal service on 127.0.0.1 receives nothing; the next attempt sees 127.0.0.1 and sends nothing."""
    assert app.state.settings.webhook_allow_private_targets is False
    resolver = ScriptedDns({"rebind.example": ["93.184.215.14"]})
    monkeypatch.setattr(targets, "resolver", resolver)
    internet = Receiver()
    try:
        sub = subscribe(client, f"http://rebind.example:{internal.port}/hook")
        resolver.answers["rebind.example"].extend(["93.184.215.14", "127.0.0.1"])
        resolver.answers["rebind.example"].popleft()
        resolver.calls.clear()
        network = RoutingBackend({"93.184.215.14": internet.port})
        create_project(client)
        with worker(app, network_backend=network) as w:
            assert w.run_once(scan=False).succeeded == 1
            assert resolver.calls == ["rebind.example"]  # one resolution for the attempt, none by the client
            assert network.connects == [("93.184.215.14", internal.port)]
            [request] = internet.requests
            assert request["headers"]["host"] == f"rebind.example:{internal.port}"  # the original Host
            assert internal.requests == []

            create_project(client, name="Régie après le changement de DNS")
            report = w.run_once(scan=False)
        assert (report.attempted, report.succeeded) == (1, 0)
        assert network.connects == [("93.184.215.14", internal.port)]  # no connection at all
        assert internal.requests == [] and len(internet.requests) == 1
        latest = deliveries(client, sub["id"])[0]
        assert latest["last_error"].startswith("Cible refusée") and "127.0.0.1" in latest["last_error"]
        assert latest["last_status_code"] is None
    finally:
        internet.close()


LOOPBACK_SPELLINGS = (
    "127.0.0.1",
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "0177.0.0.1",
    "127.1",
    "127.0.0.1.",
    "１２７．０．０．１",
    "[::ffff:127.0.0.1]",
    "localhost",
)


def test_spellings_of_loopback_reach_the_internal_service_only_when_allowed(loopback, client, internal) -> None:
    """Each spelling really designates the internal service (REGIEFLOW_WEBHOOK_ALLOW_PRIVATE_TARGETS on:
    every one is delivered there); with the setting off (production), none reaches it."""
    subs = [subscribe(client, f"http://{host}:{internal.port}/hook") for host in LOOPBACK_SPELLINGS]
    create_project(client)
    with worker(loopback) as w:
        assert w.run_once(scan=False).succeeded == len(LOOPBACK_SPELLINGS)
    assert len(internal.requests) == len(LOOPBACK_SPELLINGS)

    configure(loopback, webhook_allow_private_targets=False)
    create_project(client, name="Régie en production")
    with worker(loopback) as w:
        report = w.run_once(scan=False)
    assert (report.attempted, report.succeeded) == (len(LOOPBACK_SPELLINGS), 0)
    assert len(internal.requests) == len(LOOPBACK_SPELLINGS)  # nothing more
    for sub in subs:
        latest = deliveries(client, sub["id"])[0]
        assert latest["last_error"].startswith("Cible refusée"), latest


PUBLIC = "93.184.215.14"  # partenaire.example's address; RoutingBackend sends it to a loopback server


@pytest.fixture
def internet(monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> RoutingBackend:
    """partenaire.example resolves to a public address, which the worker's network reaches as the
    loopback `receiver`: the address check stays on (no REGIEFLOW_WEBHOOK_ALLOW_PRIVATE_TARGETS)."""
    monkeypatch.setattr(targets, "resolver", ScriptedDns({"partenaire.example": [PUBLIC]}))
    return RoutingBackend({PUBLIC: receiver.port})


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_failure_whose_location_is_never_fetched(
    app, client, receiver, internal, internet: RoutingBackend, status
) -> None:
    assert app.state.settings.webhook_allow_private_targets is False
    receiver.script((status, {"Location": f"http://127.0.0.1:{internal.port}/admin"}, b"<a>interne</a>"))
    sub = subscribe(client, f"http://partenaire.example:{receiver.port}/hook")
    create_project(client)
    with worker(app, network_backend=internet) as w:
        assert w.run_once(scan=False).succeeded == 0
    assert internal.requests == [] and len(receiver.requests) == 1
    assert internet.connects == [(PUBLIC, receiver.port)]  # one connection: the Location is never opened
    [d] = deliveries(client, sub["id"])
    assert (d["status"], d["last_status_code"]) == ("pending", status)
    [attempt] = _attempts(client, d["id"])
    assert attempt["response_excerpt"] is None
    assert attempt["error"] == f"HTTP {status} : redirection non suivie (sa destination n'est jamais appelée)."


def test_what_a_failing_or_refused_target_says_is_never_stored(
    app, client, receiver, internet: RoutingBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    leak = b"root:x:0:0 INTERNAL-ANSWER"
    receiver.script((500, {}, leak), (404, {}, leak), (429, {"Retry-After": "1"}, leak), (200, {}, b"merci"))
    sub = subscribe(client, f"http://partenaire.example:{receiver.port}/hook")
    create_project(client)
    with worker(app, network_backend=internet) as w:
        for _ in range(4):
            w.run_once(scan=False)
            app.state.clock.advance(hours=12)
    [d] = deliveries(client, sub["id"])
    attempts = _attempts(client, d["id"])
    assert [a["status_code"] for a in attempts] == [500, 404, 429, 200]
    assert [a["response_excerpt"] for a in attempts] == [None, None, None, "merci"]  # a success's answer only
    assert [a["error"] for a in attempts] == [
        "HTTP 500 : erreur du récepteur.",
        "HTTP 404 : le récepteur a refusé la livraison.",
        "HTTP 429 : le récepteur a refusé la livraison.",
        None,
    ]

    # then the name resolves to a private address (refused, nothing sent), and a public one whose port is
    # closed: a French reason each, no detail from the other side
    closed = Receiver()
    closed_port = closed.port
    closed.close()
    monkeypatch.setattr(
        targets,
        "resolver",
        ScriptedDns({"partenaire.example": [PUBLIC], "ferme.example": ["93.184.215.15"]}),
    )
    gone = subscribe(client, f"http://ferme.example:{closed_port}/hook")
    internet.routes["93.184.215.15"] = closed_port
    monkeypatch.setattr(
        targets, "resolver", ScriptedDns({"partenaire.example": ["10.1.2.3"], "ferme.example": ["93.184.215.15"]})
    )
    create_project(client, name="Régie suivante")
    with worker(app, network_backend=internet) as w:
        w.run_once(scan=False)
    refused_attempt = _attempts(client, deliveries(client, sub["id"])[0]["id"])[-1]
    assert refused_attempt["error"] == (
        "Cible refusée : L'hôte « partenaire.example » désigne une adresse privée (10.1.2.3) : refusé."
    )
    assert (refused_attempt["status_code"], refused_attempt["response_excerpt"]) == (None, None)
    [closed_attempt] = _attempts(client, deliveries(client, gone["id"])[0]["id"])
    assert (closed_attempt["error"], closed_attempt["status_code"]) == ("Connexion au récepteur impossible.", None)
    assert len(receiver.requests) == 4  # nothing more reached anyone

    with app.state.session_factory() as session:  # nowhere in the tables
        stored = [*session.scalars(select(WebhookAttempt)), *session.scalars(select(WebhookDelivery))]
        text = repr([vars(row) for row in stored])
    assert "INTERNAL-ANSWER" not in text and "root:x" not in text


# --- TLS: the original host name for SNI and the certificate ---------------------------------------------
def _certificates(tmp: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A test CA and a server certificate for `name`: (the server's context, a client context trusting
    only that CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "regieflow test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # key_cert_sign, crl_sign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (tmp / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp / "leaf.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp / "leaf.pem", tmp / "leaf.key")
    client = ssl.create_default_context(cafile=str(tmp / "ca.pem"))
    return server, client


def test_tls_keeps_the_host_name_for_sni_and_the_certificate(
    loopback, client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connected to the pinned 127.0.0.1, the worker still sends the URL's host name as TLS server name
    and checks the certificate against it: a certificate for another name fails the attempt."""
    server_context, client_context = _certificates(tmp_path, "partenaire.example")
    names: list[str | None] = []
    server_context.sni_callback = lambda sock, name, ctx: names.append(name)
    received: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            received.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    port = server.server_address[1]
    try:
        monkeypatch.setattr(
            targets, "resolver", ScriptedDns({"partenaire.example": ["127.0.0.1"], "autre.example": ["127.0.0.1"]})
        )
        good = subscribe(client, f"https://partenaire.example:{port}/hook")
        create_project(client)
        with worker(loopback, ssl_context=client_context) as w:
            assert w.run_once(scan=False).succeeded == 1
        assert names == ["partenaire.example"]
        assert [h["host"] for h in received] == [f"partenaire.example:{port}"]
        assert deliveries(client, good["id"])[0]["status"] == "succeeded"

        client.delete(f"{API}/webhooks/{good['id']}")
        other = subscribe(client, f"https://autre.example:{port}/hook")
        create_project(client, name="Régie voisine")
        with worker(loopback, ssl_context=client_context) as w:
            assert w.run_once(scan=False).succeeded == 0
        assert names[-1] == "autre.example" and len(received) == 1  # no request over a refused certificate
        [d] = deliveries(client, other["id"])
        assert d["last_error"] == (
            "Connexion TLS impossible : le certificat du récepteur n'est pas valable pour « autre.example »."
        )
    finally:
        server.shutdown()
        server.server_close()


def test_forbidden_names_every_class_in_french() -> None:
    """One reason per class, read by the subscriber in the attempt and in the API."""
    cases = {
        "10.0.0.1": "privée",
        "100.64.0.1": "CGNAT",
        "198.18.0.1": "banc d'essai",
        "192.0.2.1": "documentation",
        "169.254.169.254": "lien local",
        "224.0.0.1": "multidiffusion",
        "255.255.255.255": "réservée",
        "fd00::1": "ULA",
        "fec0::1": "site local",
        "2002:a00:1::1": "6to4",
        "2001:0:4136:e378:8000:63bf:80ff:fffe": "client Teredo",
        "::ffff:10.0.0.1": "IPv4 mappée",
    }
    for address, words in cases.items():
        why = targets.forbidden(ipaddress.ip_address(address))
        assert why is not None and words in why, (address, why)
    assert targets.forbidden(ipaddress.ip_address("93.184.215.14")) is None
    assert targets.forbidden(ipaddress.ip_address("2606:2800:220:1:248:1893:25c8:1946")) is None
