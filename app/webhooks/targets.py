"""Where a webhook may be sent: one parse of the URL, one resolution per attempt, every address checked,
and a transport that connects to exactly the checked address.

Server-side request forgery is the risk: a subscriber chooses the URL, the worker calls it from inside
the network. So:

- `parse` reads the URL once, strictly: http or https only, no user information (`user@host`), no
  backslash, space or control character; a host is a bracketed IPv6 address, an IPv4 address in any
  spelling that C resolvers accept (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`: read as inet_aton
  does, then checked as the address they mean), or a domain name (IDNA/UTS 46: `１２７．０．０．１` is
  127.0.0.1); one trailing dot is dropped; a name whose last label is a number must be an IPv4 address.
  The URL that is requested is rebuilt from these parts, so the HTTP client and this check read the
  same host.
- `resolve` asks DNS once (`resolver`, replaceable by tests), and refuses the target if ANY address it
  answers is forbidden (`forbidden`): private, loopback, link-local, multicast, reserved, unspecified,
  shared (CGNAT), benchmarking, documentation, IPv6 ULA and site-local, and the IPv6 forms that carry
  an IPv4 address (IPv4-mapped and -translated, IPv4-compatible, NAT64, 6to4, Teredo, ISATAP), which
  are judged by that IPv4 address.
- `PinnedTransport` (app.webhooks.transport) is an httpx transport whose network backend ignores the
  host it is asked for and connects to the checked addresses only, in order. The request keeps its
  URL, so the Host header, the TLS server name (SNI) and the certificate check are those of the
  original host name; no second DNS lookup happens, so an answer that changes in between (DNS
  rebinding) changes nothing.

REGIEFLOW_WEBHOOK_ALLOW_PRIVATE_TARGETS lifts the address check (tests, closed networks); the parse, the
single resolution and the pinning stay.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpcore
import idna

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


Resolver = Callable[[str, int], list[Any]]


class TargetRefused(Exception):
    """The target URL is not one regieflow will call (scheme, host, or the addresses it resolves to)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _resolve(host: str, port: int) -> list[Any]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


# Tests replace this to simulate DNS answers (a host that answers differently on each call, say).
resolver: Resolver = _resolve


# --- forbidden addresses ------------------------------------------------------------------------------
def _nets(*pairs: tuple[str, str]) -> list[tuple[Any, str]]:
    return [(ipaddress.ip_network(net), label) for net, label in pairs]


V4_FORBIDDEN = _nets(
    ("0.0.0.0/8", "non routable (« ce réseau », 0.0.0.0/8)"),
    ("10.0.0.0/8", "privée"),
    ("100.64.0.0/10", "partagée d'opérateur (CGNAT)"),
    ("127.0.0.0/8", "de boucle locale"),
    ("169.254.0.0/16", "de lien local"),
    ("172.16.0.0/12", "privée"),
    ("192.0.0.0/24", "réservée aux protocoles de l'IETF"),
    ("192.0.2.0/24", "de documentation"),
    ("192.88.99.0/24", "réservée (relais 6to4)"),
    ("192.168.0.0/16", "privée"),
    ("198.18.0.0/15", "de banc d'essai"),
    ("198.51.100.0/24", "de documentation"),
    ("203.0.113.0/24", "de documentation"),
    ("224.0.0.0/4", "de multidiffusion"),
    ("240.0.0.0/4", "réservée"),
)


V6_FORBIDDEN = _nets(
    ("64:ff9b:1::/48", "NAT64 à usage local"),  # RFC 8215: where the IPv4 sits depends on the site
    ("100::/64", "réservée (rejet)"),
    ("2001:db8::/32", "de documentation"),
    ("2001::/23", "réservée aux protocoles de l'IETF"),
    ("3fff::/20", "de documentation"),
    ("5f00::/16", "réservée (SRv6)"),
    ("fc00::/7", "privée (ULA)"),
    ("fe80::/10", "de lien local"),
    ("fec0::/10", "de site local"),
    ("ff00::/8", "de multidiffusion"),
)


GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


NAT64 = ipaddress.ip_network("64:ff9b::/96")


IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")


IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _v4_forbidden(ip: ipaddress.IPv4Address) -> str | None:
    for net, label in V4_FORBIDDEN:
        if ip in net:
            return label
    if not ip.is_global or ip.is_multicast or ip.is_reserved:  # belt and braces: Python's own registry
        return "non publique"
    return None


def _embedded(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 transition form carries, with the form's name; [] for other addresses."""
    value = int(ip)
    if ip.ipv4_mapped is not None:
        return [("IPv4 mappée", ip.ipv4_mapped)]
    if ip in IPV4_TRANSLATED:
        return [("IPv4 traduite", ipaddress.IPv4Address(value & 0xFFFFFFFF))]
    if ip in IPV4_COMPATIBLE:
        return [("IPv4 compatible", ipaddress.IPv4Address(value))]
    if ip in NAT64:
        return [("NAT64", ipaddress.IPv4Address(value & 0xFFFFFFFF))]
    if ip.sixtofour is not None:
        return [("6to4", ip.sixtofour)]
    if ip.teredo is not None:
        server, client = ip.teredo
        return [("client Teredo", client), ("serveur Teredo", server)]
    return []


def _isatap(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address of an ISATAP interface identifier (`[0-3]00:5efe:a.b.c.d`, RFC 5214), if any."""
    value = int(ip)
    if ((value >> 32) & 0xFCFFFFFF) == 0x00005EFE:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


def forbidden(ip: IPAddress) -> str | None:
    """Why a webhook may not be sent to `ip` (a French adjective phrase), or None when it is public."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _v4_forbidden(ip)
    if ip.scope_id:
        return "de lien local (avec zone)"
    if int(ip) <= 1:
        return "non spécifiée" if int(ip) == 0 else "de boucle locale"
    carried = _embedded(ip)
    if carried:  # a transition form is judged by the IPv4 address it carries, whatever its prefix
        for form, v4 in carried:
            why = _v4_forbidden(v4)
            if why is not None:
                return f"{why} (forme {form} de {v4})"
        return None
    isatap = _isatap(ip)
    if isatap is not None and (why := _v4_forbidden(isatap)) is not None:
        return f"{why} (forme ISATAP de {isatap})"
    for net, label in V6_FORBIDDEN:
        if ip in net:
            return label
    if ip not in GLOBAL_UNICAST:
        return "réservée (hors de l'unicast global 2000::/3)"
    if not ip.is_global:
        return "non publique"
    return None


# --- the URL --------------------------------------------------------------------------------------
NUMERIC_LABEL = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)\Z")


HOST_CHARS = re.compile(r"[a-z0-9_.-]+\Z")


PORT = re.compile(r"[0-9]{1,5}\Z")


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in any spelling inet_aton(3) accepts (1 to 4 parts, each decimal, octal with a
    leading 0, or hexadecimal with 0x; the last part fills the remaining bytes); None if it is not one."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        if not NUMERIC_LABEL.match(part):
            return None
        if part[:2].lower() == "0x":
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part[0] == "0":
            if any(c not in "01234567" for c in part):
                return None
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part))
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = 0
    for n in head:
        value = value * 256 + n
    value = (value << (8 * (5 - len(numbers)))) | last
    return ipaddress.IPv4Address(value)


@dataclass(frozen=True)
class ParsedTarget:
    scheme: str
    host: str  # ASCII: a domain name (IDNA), or an IP address without brackets
    port: int
    url: str  # rebuilt from the parts: what the HTTP client requests
    ip: IPAddress | None  # the host is an IP address (no DNS)


def _split_authority(netloc: str) -> tuple[str, str | None, bool]:
    """(host, port text or None, bracketed) from an authority without user information."""
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise TargetRefused("Adresse IPv6 mal écrite (crochet fermant manquant).")
        host, rest = netloc[1:end], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise TargetRefused("Adresse IPv6 mal écrite.")
        return host, rest[1:] if rest else None, True
    host, sep, port = netloc.rpartition(":")
    if not sep:
        return netloc, None, False
    return host, port, False


def _domain(host: str) -> str:
    """A domain name in ASCII, lower case, without its trailing dot (IDNA 2008 with UTS 46 mapping)."""
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            raise TargetRefused(f"Nom de domaine international invalide : « {host} ».") from None
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host or not HOST_CHARS.match(host) or "" in host.split("."):
        raise TargetRefused(f"Nom d'hôte invalide : « {host} ».")
    return host


def _host(raw: str, bracketed: bool) -> tuple[str, IPAddress | None]:
    """The host in ASCII, and its address when it is written as one (any IPv4 spelling included)."""
    if bracketed:
        if "%" in raw:
            raise TargetRefused("Une adresse IPv6 avec zone (%) n'est pas une cible possible.")
        try:
            v6 = ipaddress.IPv6Address(raw)
        except ValueError:
            raise TargetRefused(f"Adresse IPv6 invalide : « {raw} ».") from None
        return str(v6), v6
    host = _domain(raw)
    if not NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
        return host, None
    v4 = parse_ipv4(host)  # the last label is a number: an IPv4 address, however written, or nothing
    if v4 is None:
        raise TargetRefused(f"Adresse IPv4 invalide : « {raw} ».")
    return str(v4), v4


def parse(url: str) -> ParsedTarget:
    """Read a target URL strictly (see the module's docstring); TargetRefused with a French reason."""
    if any(ord(c) <= 0x20 or 0x7F <= ord(c) <= 0x9F for c in url) or "\\" in url:
        raise TargetRefused("L'URL contient des espaces, des caractères de contrôle ou une barre oblique inverse.")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise TargetRefused("URL illisible.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused("Seules les URL http:// et https:// sont acceptées.")
    if "@" in parts.netloc:
        raise TargetRefused("L'URL ne peut pas contenir d'identifiants (utilisateur@hôte).")
    raw_host, port_text, bracketed = _split_authority(parts.netloc)
    if not raw_host:
        raise TargetRefused("L'URL doit nommer un hôte.")
    if port_text:
        port = int(port_text) if PORT.match(port_text) else 0
        if not 1 <= port <= 65535:
            raise TargetRefused("Port invalide : de 1 à 65535.")
    else:
        port = 443 if scheme == "https" else 80
    host, ip = _host(raw_host, bracketed)
    netloc = f"[{host}]" if isinstance(ip, ipaddress.IPv6Address) else host
    if port_text:
        netloc += f":{port}"
    rebuilt = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    import httpx  # here, not at the app's start: httpx pulls in rich and pygments (cold start)

    try:
        seen = httpx.URL(rebuilt).raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeDecodeError):
        raise TargetRefused("URL illisible.") from None
    if seen.strip("[]") != host:  # the client must read the host this check read
        raise TargetRefused("URL ambiguë : l'hôte n'est pas lu de la même façon partout.")
    return ParsedTarget(scheme=scheme, host=host, port=port, url=rebuilt, ip=ip)


# --- resolution and the check -------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A target ready to call: its URL and the addresses (checked, in order) to connect to."""

    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


def _refuse_address(host: str, ip: IPAddress) -> None:
    why = forbidden(ip)
    if why is not None:
        raise TargetRefused(f"L'hôte « {host} » désigne une adresse {why} ({ip}) : refusé.")


def _addresses(infos: Iterable[Any], host: str) -> list[IPAddress]:
    found: list[IPAddress] = []
    for info in infos:
        text = str(info[4][0])
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            raise TargetRefused(f"Adresse inattendue pour « {host} » : {text}.") from None
        if ip not in found:
            found.append(ip)
    return found


def resolve(url: str, *, allow_private: bool) -> Target:
    """Parse, resolve once, check every address (unless `allow_private`); TargetRefused otherwise."""
    parsed = parse(url)
    if parsed.ip is not None:
        found: list[IPAddress] = [parsed.ip]
    else:
        if not allow_private and (parsed.host == "localhost" or parsed.host.endswith(".localhost")):
            raise TargetRefused(f"L'hôte « {parsed.host} » désigne la machine locale : refusé.")
        try:
            found = _addresses(resolver(parsed.host, parsed.port), parsed.host)
        except (OSError, UnicodeError):
            found = []
        if not found:
            raise TargetRefused(f"L'hôte « {parsed.host} » ne se résout pas.")
    if not allow_private:
        for ip in found:  # every answer: a name that also resolves to an internal address is refused
            _refuse_address(parsed.host, ip)
    return Target(url=parsed.url, host=parsed.host, port=parsed.port, addresses=tuple(str(ip) for ip in found))


def check(url: str, *, allow_private: bool) -> None:
    """The check made when a subscription is created or its URL changed. With `allow_private`, the URL
    is only parsed (a closed network's name may not resolve from here yet)."""
    if allow_private:
        parse(url)
        return
    resolve(url, allow_private=False)


# --- the pinned connection ----------------------------------------------------------------------------
class PinnedBackend(httpcore.NetworkBackend):
    """Connects to the checked addresses only, in order, whatever host httpcore asks for."""

    def __init__(self, addresses: Iterable[str], inner: httpcore.NetworkBackend | None = None) -> None:
        self.addresses = tuple(addresses)
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        error: Exception | None = None
        for address in self.addresses:
            try:
                return self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error or httpcore.ConnectError("no address to connect to")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook targets")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)
