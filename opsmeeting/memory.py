"""Memory between the stages of a run: what a stage freed goes back to the operating system.

A stage's transient objects (a page of PagerDuty's JSON, a Prometheus answer, the PDF's boxes) are
freed when it ends, but the C allocator keeps the freed memory mapped for the process, so the
resident size only grows from stage to stage. ``release()`` asks glibc to return it
(``malloc_trim``); elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Callable


@functools.cache
def _trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim  # glibc only (musl has none)
    except (OSError, AttributeError):
        return None
    return trim


def release() -> None:
    """Return the memory freed so far to the operating system, where the C library allows it."""
    trim = _trim()
    if trim is not None:
        trim(0)
