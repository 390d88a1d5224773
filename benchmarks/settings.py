"""Settings for the benchmarks: the real settings, on the database the benchmark chose.

DATABASE_URL is set by bench_pages.py before Django starts. The test client
talks to "testserver"; static files are not collected.
"""

import os
import warnings

os.environ.setdefault("SECRET_KEY", "benchmarks-only-not-secret")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
# The pages never send anything; the sandbox choice only satisfies the start-up check.
os.environ.setdefault("MEMORIES_SANDBOX", "1")

from memories_portal.settings import *  # noqa: E402,F403

STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {"version": 1, "disable_existing_loggers": False}
# WhiteNoise warns that collectstatic has not run: the benchmark serves no static files.
warnings.filterwarnings("ignore", message="No directory at")

# BENCH_URL_CHECKS=off (bench_api.py): submissions skip the URL check (no_url_checks.py).
if os.environ.get("BENCH_URL_CHECKS", "on") == "off":
    INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks.no_url_checks.NoUrlChecks"]  # noqa: F405
