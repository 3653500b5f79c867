"""Start-up without the cyclic garbage collector's passes over what start-up builds.

Importing the application allocates a few hundred thousand objects that live as long as the process
(modules, classes, pydantic and SQLAlchemy schemas, FastAPI routes). Python's collector, counting
allocations, runs three full passes over that growing heap during the import and finds next to
nothing to free: 0.25-0.3 s of CPU of a ~2 s cold start (issue 17). `loading()` holds the collector
off while a block imports and builds, then hands what it built to the oldest generation unscanned;
`settle()` is for a long-running process once it has imported what it serves with (the server): the
collector never scans those objects again. Reference counting frees everything as before; only cycles are the
collector's business, and start-up makes next to none.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def loading() -> Iterator[None]:
    """No automatic collection inside the block; afterwards the collector is as it was, and what the
    block allocated is in the oldest generation (freeze then unfreeze: moved there without a scan, so
    the first collection after the block does not walk all of it; it stays collectable)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()


def settle() -> None:
    """A process that has imported what it serves with: leave every object that exists now out of
    future collections (gc.freeze). The server calls it once, right after its imports."""
    gc.freeze()
