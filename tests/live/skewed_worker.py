"""`db_worker` in a process whose clock is off by CLOCK_SKEW_SECONDS (tests only).

    python tests/live/skewed_worker.py db_worker --no-reload ...

Both clocks the portal could read are moved: Django's `timezone.now` and
`time.time`. The database's clock is not, as it would not be on a real host.
"""

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

SKEW = float(os.environ["CLOCK_SKEW_SECONDS"])


def main():
    from django.utils import timezone

    real_now, real_time = timezone.now, time.time
    timezone.now = lambda: real_now() + timedelta(seconds=SKEW)
    time.time = lambda: real_time() + SKEW

    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", *sys.argv[1:]])


if __name__ == "__main__":
    main()
