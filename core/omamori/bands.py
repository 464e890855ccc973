"""Row bands: full-size elementwise work done a band of rows at a time, on several threads.

A band's temporaries stay small and in cache, and numpy releases the GIL inside its loops, so bands on
different threads run on different cores. Used for the cloak's input and rounding, float-to-integer
conversion and the stamp's luminance passes; the PNG writer takes its thread count from here."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

ROWS = 256  # rows per band


def workers() -> int:
    """Threads for band work: the batch divides the cores between its processes through
    models.set_threads, so one process never takes them all."""
    from .models import default_threads  # models imports this module

    return max(1, default_threads() or os.cpu_count() or 1)


def for_each_band(height: int, work: Callable[[slice], None], rows: int = ROWS) -> None:
    """Calls work(rows) for every band of `rows` rows of a picture `height` rows tall. The bands must
    write disjoint rows; exceptions propagate."""
    bands = [slice(start, start + rows) for start in range(0, height, rows)]
    count = min(workers(), len(bands))
    if count <= 1:
        for band in bands:
            work(band)
        return
    with ThreadPoolExecutor(max_workers=count) as pool:
        for _ in pool.map(work, bands):
            pass
