"""`make bench`: run every benchmarks/bench_*.py in turn; fail if any misses its goal.

That is bench_api, bench_batches, bench_callbacks, bench_chaos, bench_dispatch,
bench_fuzz, bench_notifications, bench_pages, bench_playlist, bench_queue,
bench_slow_clients and bench_storm.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main():
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"missed goals: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
