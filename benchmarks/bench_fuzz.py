"""The fuzz tests (tests/fast/test_fuzz.py), run longer than in CI: every door (the form,
the API's JSON, a batch's CSV rows through the page and the API, the list's filters) with
FUZZ_EXAMPLES examples each instead of 60.

Goal (exit status 1 when missed): the properties hold for every example: never a 5xx,
every refusal names its field, no batch left checking.

    .venv/bin/python benchmarks/bench_fuzz.py      (FUZZ_EXAMPLES=500)
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 500))
PROPERTIES = 4  # the tests in tests/fast/test_fuzz.py


def main():
    print(f"machine: {machine()}")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         "tests/fast/test_fuzz.py", "--hypothesis-show-statistics"],
        cwd=REPO, env={**os.environ, "FUZZ_EXAMPLES": str(EXAMPLES),
                       # A test database of its own: a test run meanwhile keeps its own.
                       "SQLITE_TEST_NAME": str(Path(tempfile.mkdtemp()) / "fuzz.sqlite3")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    summary = [line for line in result.stdout.splitlines() if "passed" in line or "failed" in line]
    print(f"{PROPERTIES} properties x {EXAMPLES} examples in {seconds:.0f} s: "
          f"{summary[-1] if summary else 'no summary'}")  # fmt: skip
    if result.returncode != 0:
        print(result.stdout[-6000:])
        print("goal missed: a property failed")
        return 1
    print("goals met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
