"""Work that must give way: a worker thread at the lowest CPU priority.

The live transcript's whisper passes are worth having only while they cost the reply nothing. On two
cores a draft that is still running when the user stops talking used to hold whisper for 30-110 ms
before the final pass could start (in 4 of 7 questions of a bench run). Drafts now run on their own
whisper context in a thread at nice 19: the final pass takes the cores the moment it starts (measured
offline: 566 ms beside a draft against 526 alone, where sharing one context made it 1,289).

On Linux a thread's nice value is its own (setpriority on the thread id), and threads it starts
(ggml's OpenMP team) inherit it. Elsewhere the thread keeps the normal priority: the same code, only
the contention is back.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

LOWEST_PRIORITY = 19


def lower_this_thread() -> bool:
    """Give the calling thread (and the threads it starts from now on) the lowest CPU priority.
    Returns whether it could (Linux only; other systems would change the whole process)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)
    except OSError as error:  # a sandbox forbidding it: the work still runs, at normal priority
        log.debug("could not lower a background thread's priority: %s", error)
        return False
    return True


def background_executor(name: str) -> ThreadPoolExecutor:
    """One worker thread at the lowest priority: for work nobody waits on."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix=name, initializer=lower_this_thread)
