"""Which CPUs the daemon and the dashboards worker run on while both run.

A lower priority (nice 19) is not enough to keep the worker's number crunching from delaying SMS
replies: a kernel that does not preempt code running in the kernel (``CONFIG_PREEMPT_NONE``, the
default of many server and virtual machine kernels; Debian's and Ubuntu's preempt only at
voluntary points) lets a niced process finish its page faults and system calls before a woken
daemon thread gets the CPU, and one reply wakes the daemon's threads tens of times. Measured with
200,000 customers on a 2-CPU machine (docs/benchmarks.md, issue 17): reply p99 160-300 ms with the
worker niced on both CPUs, 34 ms with the daemon on one CPU and the worker on the other.

So while the worker runs on a machine with two CPUs or more, the daemon keeps the first CPU it may
use and the worker gets the others (``dashboards.own_cpu``); when the worker stops, the daemon may
use every CPU again. Linux only (``sched_setaffinity``); elsewhere nothing is pinned.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

LOGGER = logging.getLogger(__name__)


def split(allowed: set[int]) -> tuple[set[int], set[int]] | None:
    """(the daemon's CPUs, the worker's CPUs) out of the CPUs the daemon may use; None with fewer
    than two (nothing to split)."""
    if len(allowed) < 2:
        return None
    first = min(allowed)
    return {first}, allowed - {first}


def allowed() -> set[int]:
    """The CPUs this process may use now (every CPU where affinity is not supported)."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def pin(cpus: set[int], nice: int | None = None) -> bool:
    """Put every thread of this process on ``cpus`` (and, given ``nice``, at that nice level):
    threads already running too (numpy's, aiosqlite's), which a plain ``sched_setaffinity(0)`` or
    ``nice()`` would leave out on Linux. Threads started later inherit it from their creator. False
    when the system does not allow it (not Linux, a container that forbids it: EPERM)."""
    try:
        tasks = [int(t.name) for t in Path(f"/proc/{os.getpid()}/task").iterdir()]
    except OSError:
        return False
    done = True
    for task in tasks:
        try:
            os.sched_setaffinity(task, cpus)
            if nice is not None:
                os.setpriority(os.PRIO_PROCESS, task, nice)
        except ProcessLookupError:
            pass  # a thread that ended meanwhile
        except (AttributeError, PermissionError) as exc:  # not Linux; a container that forbids it
            LOGGER.debug("cannot pin thread %d to CPUs %s: %s", task, sorted(cpus), exc)
            done = False
        except OSError as exc:  # a thread starting or ending just then: it inherits its creator's CPUs
            LOGGER.debug("thread %d not pinned to CPUs %s: %s", task, sorted(cpus), exc)
    return done
