"""Settings for the Memories Portal, read from the environment (and `.env`).

Development defaults are safe; production values that are missing fail loudly.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A `.env` beside manage.py is read if present; real environment variables win.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# Without DEBUG there is no fallback key: a portal that holds the company's
# API key must not run with a key that is in the repository.
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-not-secret" if DEBUG else None)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks_db",
    "uploads",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "memories_portal.urls"
WSGI_APPLICATION = "memories_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "uploads.context_processors.portal",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # gunicorn and the worker write at the same time: WAL lets readers and one
    # writer work together, IMMEDIATE takes the write lock when a transaction
    # starts (no upgrade deadlocks), and the timeout waits instead of failing
    # with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory: tests start workers and servers in other processes.
    DATABASES["default"]["TEST"] = {
        "NAME": env.str("SQLITE_TEST_NAME", default=str(BASE_DIR / "test_db.sqlite3"))
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- memories.ai -----------------------------------------------------------
MEMORIES_API_KEY = env.str("MEMORIES_API_KEY", default="")
MEMORIES_API_BASE_URL = env.str("MEMORIES_API_BASE_URL", default="https://api.memories.ai")
# Sending to the local sandbox must be chosen explicitly (make run does): the
# portal never falls back to it silently when the key is missing.
MEMORIES_SANDBOX = env.bool("MEMORIES_SANDBOX", default=False)
MEMORIES_SANDBOX_KEY = "sk-mavi-sandbox"
# (connect, read) seconds. The read timeout is long because a read timeout
# after sending is an unknown outcome that a person must review.
MEMORIES_CONNECT_TIMEOUT = env.float("MEMORIES_CONNECT_TIMEOUT", default=5.0)
MEMORIES_READ_TIMEOUT = env.float("MEMORIES_READ_TIMEOUT", default=30.0)
# Externally reachable base URL of the portal, for callback URLs; unset means
# memories.ai gets no callback.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")

# --- sending ---------------------------------------------------------------
# memories.ai documents one upload per minute per account.
MEMORIES_UPLOADS_PER_MINUTE = env.float("MEMORIES_UPLOADS_PER_MINUTE", default=1.0)
# Backoff after a retry-safe failure: base * 2**attempt seconds, capped.
SEND_RETRY_BASE_SECONDS = env.float("SEND_RETRY_BASE_SECONDS", default=30.0)
SEND_RETRY_MAX_SECONDS = env.float("SEND_RETRY_MAX_SECONDS", default=900.0)
SEND_MAX_ATTEMPTS = env.int("SEND_MAX_ATTEMPTS", default=5)
# How long a claimed submission stays "sending" before it counts as abandoned
# by a dead worker. Default: the request's connect + read timeouts + 30 s.
SEND_LEASE_SECONDS = env.float("SEND_LEASE_SECONDS", default=0.0)

# --- status polling (for when callbacks cannot reach the portal) -----------
# A video is asked about again after POLL_MIN_INTERVAL_SECONDS, then less often
# as it ages (a tenth of its age), but at least every POLL_MAX_INTERVAL_SECONDS.
POLL_MIN_INTERVAL_SECONDS = env.float("POLL_MIN_INTERVAL_SECONDS", default=30.0)
POLL_MAX_INTERVAL_SECONDS = env.float("POLL_MAX_INTERVAL_SECONDS", default=3600.0)
POLL_BATCH_SIZE = env.int("POLL_BATCH_SIZE", default=100)
# memories.ai allows 5 list_videos requests per second per account.
MEMORIES_LIST_PER_SECOND = env.float("MEMORIES_LIST_PER_SECOND", default=5.0)

# --- URL checks ------------------------------------------------------------
# Lets the URL checks accept loopback and private addresses. Only for tests and
# the sandbox; never in production.
URL_PROBE_ALLOW_PRIVATE = env.bool("URL_PROBE_ALLOW_PRIVATE", default=False)
# Ports a submitted URL may use. memories.ai's downloader is only known to
# reach the standard web ports; other ports are often internal services.
URL_PROBE_ALLOWED_PORTS = env.list("URL_PROBE_ALLOWED_PORTS", cast=int, default=[80, 443])
# The whole check of a submitted URL (DNS, redirects, playlists) must finish in this time.
URL_PROBE_DEADLINE = env.float("URL_PROBE_DEADLINE", default=5.0)
# A submission that waited longer than this is checked again just before it is
# sent, so a link that died meanwhile does not use an upload slot.
URL_RECHECK_AFTER_SECONDS = env.float("URL_RECHECK_AFTER_SECONDS", default=600.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # The "Not Found" warning would print callback tokens.
        "django.request": {"level": "ERROR"},
    },
}

# Test-only: the sending worker sleeps at this named point ("before_request" or
# "after_request") so a test can kill it exactly there. Empty in real use.
SEND_TEST_PAUSE = env.str("SEND_TEST_PAUSE", default="")
SEND_TEST_PAUSE_SECONDS = env.float("SEND_TEST_PAUSE_SECONDS", default=30.0)

# How often run_periodic wakes up (heartbeat, recovery of abandoned sends, polling).
PERIODIC_INTERVAL_SECONDS = env.float("PERIODIC_INTERVAL_SECONDS", default=10.0)
