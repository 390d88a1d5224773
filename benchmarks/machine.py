"""What the benchmarks ran on, for the figures they print."""

import os
import platform
from pathlib import Path


def machine():
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0))
    return f"{cores} CPUs (nproc), {model}, Python {platform.python_version()}"
