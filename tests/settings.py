"""Settings for the test suite: the real settings, with test-friendly environment defaults.

Worker and server processes that tests start use this module too.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-secret")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
# Tests serve videos and the sandbox on loopback: let loopback addresses through
# (only those; every other internal address stays refused).
os.environ.setdefault("URL_PROBE_ALLOW_PRIVATE", "1")
# No real key in tests: the sandbox's, and nothing leaves loopback unless a test
# points the portal at a sandbox (port 9 is "discard": connections are refused).
os.environ.setdefault("MEMORIES_SANDBOX", "1")
os.environ.setdefault("MEMORIES_API_BASE_URL", "http://127.0.0.1:9")

from memories_portal.settings import *  # noqa: E402,F403

# Plain static storage: tests do not run collectstatic.
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WHITENOISE_USE_FINDERS = True
# Test servers listen on whatever port the system gives them.
URL_PROBE_ALLOWED_PORTS = range(1, 65536)
