"""The worker's HTTP transport (httpx), apart from app.webhooks.targets so that the web app, which only
checks targets, does not import httpx when it starts (cold start, docs/PERFORMANCE.md §4)."""

from __future__ import annotations

import ssl
from collections.abc import Iterable

import httpcore
import httpx

from app.webhooks.targets import PinnedBackend


class PinnedTransport(httpx.HTTPTransport):
    """httpx's transport over one connection pool whose backend is a PinnedBackend: HTTP/1.1, no proxy,
    no keep-alive (one attempt, one connection), certificates checked against the URL's host name."""

    def __init__(
        self,
        addresses: Iterable[str],
        *,
        ssl_context: ssl.SSLContext,
        network_backend: httpcore.NetworkBackend | None = None,
    ) -> None:
        super().__init__(verify=ssl_context, trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=1,
            max_keepalive_connections=0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=PinnedBackend(addresses, network_backend),
        )
