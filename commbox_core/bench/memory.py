"""`python -m commbox_core.bench.memory read_csv|console FILE`: peak memory of one side, in a
fresh process, printed as JSON.

Both sides start from the file's bytes in memory (as an upload arrives), after a warm-up on a
small file so that neither pays for first-use imports. The peak is the growth of the resident
set over that start: Linux's high-water mark, reset just before (ru_maxrss elsewhere, which
cannot be reset). Python's tracemalloc would miss pandas' and Arrow's own allocations.
"""

from __future__ import annotations

import gc
import json
import resource
import sys

from commbox_core.bench.files import console, read_csv
from commbox_core.bench.sample import sample_csv


def main(argv: list[str]) -> int:
    side, path = argv
    work = {"read_csv": read_csv, "console": console}[side]
    with open(path, "rb") as file:
        data = file.read()
    work(sample_csv(200, seed=1))  # other values than the file's: no cache is warm for it
    gc.collect()
    start = _resident()
    reset = _reset_peak()
    result = work(data)
    peak = (_peak() if reset else max(_peak(), start)) - start
    frame = int(result.memory_usage(deep=True).sum()) if side == "read_csv" else 0
    print(json.dumps({"peak": peak, "frame": frame, "exact": reset}))
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def _resident() -> int:
    return _status("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _peak() -> int:
    return _status("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _status(key: str) -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
