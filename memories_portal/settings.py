"""Settings for the Memories Portal, read from the environment (and `.env`).

Development defaults are safe; production values that are missing fail loudly.
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from uploads.signin.config import socialaccount_providers

BASE_DIR = Path(__file__).resolve().parent.parent

# A `.env` beside manage.py is read if present; real environment variables win.
# ENV_FILE names another file (tests point it at nothing to control the environment).
environ.Env.read_env(os.environ.get("ENV_FILE", BASE_DIR / ".env"), overwrite=False)
# Every variable may also come from a file: NAME_FILE=/run/secrets/name (Docker and
# Kubernetes secrets) is read instead of NAME.
env = environ.FileAwareEnv()

# What is wrong with the environment; reported all at once, below.
problems = []


def secret(name):
    """A secret from NAME or from the file NAME_FILE, without surrounding whitespace.

    Files usually end with a newline, which would make an invalid HTTP header
    of the API key.
    """
    try:
        return env.str(name, default="").strip()
    except OSError as exc:
        problems.append(f"{name}_FILE={os.environ.get(name + '_FILE')} cannot be read ({exc})")
        return ""


DEBUG = env.bool("DEBUG", default=False)

# Without DEBUG there is no fallback key: a portal that holds the company's
# API key must not run with a key that is in the repository.
SECRET_KEY = secret("SECRET_KEY") or ("dev-only-not-secret" if DEBUG else "")
# Old secret keys, comma-separated, while a new one takes over: sessions, password
# reset links and the accounts' encrypted API keys still open with them.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The admin, for superusers only (memories_portal/admin.py).
    "memories_portal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    # Signing in with the company's identity provider (uploads/signin/): allauth's
    # accounts and social accounts, and our OpenID Connect provider in place of its own.
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "uploads.signin",
    # The API (/api/v1/, uploads/api/) and its OpenAPI schema; the docs page's
    "rest_framework",
    "drf_spectacular",
    # Before django_tasks_db: its `db_worker` command is the portal's own
    # (uploads/management/commands/db_worker.py), which outlives database errors.
    "uploads",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After authentication: pages, the list's dates, the chart's days and the CSV in the
    # person's own time zone.
    "uploads.middleware.PersonTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into its answer.
    "axes.middleware.AxesMiddleware",
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
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "uploads.context_processors.portal",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Keep a connection for this many seconds instead of one per request (a new
# PostgreSQL connection costs more than most of the portal's requests); checked
# before reuse, so a restarted database costs one failed check, not an error.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # gunicorn and the worker write at the same time: WAL lets readers and one
    # writer work together, IMMEDIATE takes the write lock when a transaction
    # starts (no upgrade deadlocks), and the timeout waits instead of failing
    # with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": env.float("SQLITE_TIMEOUT", default=20.0),
    }
    # A file, not memory: tests start workers and servers in other processes.
    DATABASES["default"]["TEST"] = {
        "NAME": env.str("SQLITE_TEST_NAME", default=str(BASE_DIR / "test_db.sqlite3"))
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# "default" carries the sender's wake-ups, the heartbeat and polling; "batches" the
# checks of "Submit many" batches, and "notifications" emails and webhooks, each for a
# worker of its own (Procfile, make run): neither ever delays the sender.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "batches", "notifications"],
    }
}

# The callback's abuse limits count in the cache. A database table, because the
# counts must be shared by every gunicorn worker on every machine (LocMemCache is
# per process, so each of N workers would allow N times the limit), and the
# database is the one service the portal already shares. The table is created
# by a migration (uploads 0003); run `manage.py createcachetable` after changing this.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "portal_cache",
        # One entry per calling address and window (unknown callback tokens); Django culls
        # a third of the table when it is full, which would forget counts.
        "OPTIONS": {"MAX_ENTRIES": 20000},
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# django-axes checks every login (site and admin) first; it authenticates no one.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

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
MEMORIES_API_KEY = secret("MEMORIES_API_KEY")
MEMORIES_API_BASE_URL = env.str("MEMORIES_API_BASE_URL", default="https://api.memories.ai")
# Sending to the local sandbox must be chosen explicitly (make run does): the
# portal never falls back to it silently when the key is missing.
MEMORIES_SANDBOX = env.bool("MEMORIES_SANDBOX", default=False)
MEMORIES_SANDBOX_KEY = "sk-mavi-sandbox"
# The key that encrypts memories.ai accounts' API keys at rest (django-fernet-encrypted-
# fields, which derives its Fernet keys from SECRET_KEY and these). Several, comma-
# separated, for rotation: the first encrypts, every one decrypts (docs/configuration.md).
# A development default only with DEBUG or the sandbox; production refuses to start
# without it.
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])
SALT_KEY = [key.strip() for key in FIELD_ENCRYPTION_KEY if key.strip()] or (
    ["dev-only-not-secret-field-key"] if DEBUG or MEMORIES_SANDBOX else []
)
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
# The sender is woken this much before its slot opens and waits for it itself:
# a worker picks up tasks only as often as it polls (db_worker: every second).
SEND_HOLD_SECONDS = env.float("SEND_HOLD_SECONDS", default=1.5)
# How many submissions one person may have waiting in a team (a team may set its own).
MAX_WAITING_PER_PERSON = env.int("MAX_WAITING_PER_PERSON", default=2000)

# --- status polling (for when callbacks cannot reach the portal) -----------
# A video is asked about again after POLL_MIN_INTERVAL_SECONDS, then less often
# as it ages (a tenth of its age), but at least every POLL_MAX_INTERVAL_SECONDS.
POLL_MIN_INTERVAL_SECONDS = env.float("POLL_MIN_INTERVAL_SECONDS", default=30.0)
POLL_MAX_INTERVAL_SECONDS = env.float("POLL_MAX_INTERVAL_SECONDS", default=3600.0)
POLL_BATCH_SIZE = env.int("POLL_BATCH_SIZE", default=100)
# A video list_videos has not returned for this long is asked for by number;
# if memories.ai does not know it, or still tells nothing, it needs review.
POLL_GIVE_UP_AFTER_DAYS = env.float("POLL_GIVE_UP_AFTER_DAYS", default=7.0)
# memories.ai allows 5 list_videos requests per second per account.
MEMORIES_LIST_PER_SECOND = env.float("MEMORIES_LIST_PER_SECOND", default=5.0)

# --- URL checks ------------------------------------------------------------
# Lets the URL checks accept loopback addresses (127.0.0.0/8, ::1), where tests
# and the sandbox serve; every other internal address stays refused. Never in
# production.
URL_PROBE_ALLOW_PRIVATE = env.bool("URL_PROBE_ALLOW_PRIVATE", default=False)
# Ports a submitted URL may use. memories.ai's downloader is only known to
# reach the standard web ports; other ports are often internal services.
URL_PROBE_ALLOWED_PORTS = env.list("URL_PROBE_ALLOWED_PORTS", cast=int, default=[80, 443])
# The whole check of a submitted URL (DNS, redirects, playlists) must finish in this time.
URL_PROBE_DEADLINE = env.float("URL_PROBE_DEADLINE", default=5.0)
# A submission that waited longer than this is checked again just before it is
# sent, so a link that died meanwhile does not use an upload slot.
URL_RECHECK_AFTER_SECONDS = env.float("URL_RECHECK_AFTER_SECONDS", default=600.0)

# --- "Submit many" batches -------------------------------------------------------
# Rows in one batch (pasted lines or CSV rows), and the largest CSV file accepted.
BATCH_MAX_ROWS = env.int("BATCH_MAX_ROWS", default=10_000)
BATCH_MAX_FILE_BYTES = env.int("BATCH_MAX_FILE_BYTES", default=20 * 1024 * 1024)
# Links of a batch checked at once (threads of the batches worker's task).
BATCH_CHECK_CONCURRENCY = env.int("BATCH_CHECK_CONCURRENCY", default=8)
# A batch is checked in steps of about this long; batches take turns between steps.
BATCH_CHECK_STEP_SECONDS = env.float("BATCH_CHECK_STEP_SECONDS", default=10.0)
# A batch whose check has not moved for this long (its worker died) is started again.
BATCH_CHECK_STALLED_SECONDS = env.float("BATCH_CHECK_STALLED_SECONDS", default=300.0)
if BATCH_CHECK_CONCURRENCY < 1:
    problems.append("BATCH_CHECK_CONCURRENCY must be at least 1")

# --- the API (/api/v1/) ------------------------------------------------------------
# Requests per token per minute, counted in a database row that every gunicorn worker
# on every machine shares; one more answers 429 with Retry-After.
API_REQUESTS_PER_MINUTE = env.int("API_REQUESTS_PER_MINUTE", default=120)
# The largest body the API reads (a 10,000-row batch as JSON or CSV fits). The pages keep
# Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB): the API reads its bodies itself.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=10 * 1024 * 1024)
# How long an Idempotency-Key's first answer is kept for a retry.
API_IDEMPOTENCY_HOURS = env.float("API_IDEMPOTENCY_HOURS", default=24.0)
if API_REQUESTS_PER_MINUTE < 1:
    problems.append("API_REQUESTS_PER_MINUTE must be at least 1")
REST_FRAMEWORK = {
    # Tokens only: no session cookie, so no CSRF to forge (uploads/api/authentication.py).
    "DEFAULT_AUTHENTICATION_CLASSES": ["uploads.api.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["uploads.api.authentication.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["uploads.api.throttling.TokenRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["uploads.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "uploads.api.errors.problem_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Memories Portal API",
    "DESCRIPTION": "Submit video URLs to memories.ai through the portal, from scripts and "
    "pipelines. Authenticate with a personal access token (the Tokens page): "
    "`Authorization: Bearer <token>`. Errors are application/problem+json.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {"SubmissionStatus": "uploads.models.Status.choices"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "uploads.api.schema.add_problem_responses",
        "uploads.api.schema.add_links",
    ],
}

# --- slow clients -----------------------------------------------------------------
# Seconds a request's body may take to arrive under gunicorn, then 408 and the connection
# closed (memories_portal/slow_clients.py): a client sending slowly holds one of gunicorn's
# threads this long at most. Behind a proxy that buffers bodies (docs/deploying.md) they
# arrive at once; without one, 20 s still lets a 20 MB CSV come over 10 Mbit/s.
REQUEST_BODY_TIMEOUT = env.float("REQUEST_BODY_TIMEOUT", default=20.0)
if REQUEST_BODY_TIMEOUT <= 0:
    problems.append("REQUEST_BODY_TIMEOUT must be more than 0 seconds")

# --- the callback --------------------------------------------------------------
# memories.ai sends a few small JSON fields; anything bigger is not a callback.
CALLBACK_MAX_BODY_BYTES = env.int("CALLBACK_MAX_BODY_BYTES", default=16 * 1024)
# Abuse limits, counted in the shared cache. Neither can refuse a legitimate
# callback: a known token is always looked up and served (the first limit only
# answers 429 instead of 404 to an address that keeps guessing), and a video's
# life needs a handful of callbacks, not 50 an hour.
CALLBACK_UNKNOWN_TOKENS_PER_MINUTE = env.int("CALLBACK_UNKNOWN_TOKENS_PER_MINUTE", default=30)
CALLBACK_CALLS_PER_TOKEN_PER_HOUR = env.int("CALLBACK_CALLS_PER_TOKEN_PER_HOUR", default=50)


# --- who is calling --------------------------------------------------------------
# Addresses (or networks) of the reverse proxies in front of the portal. Only a
# request that comes from one of them has its client address taken from
# X-Forwarded-For (the right-most address that is not a proxy); otherwise the
# header is ignored and REMOTE_ADDR counts, so no one can choose their own
# address for the login lockout or the callback limits (memories_portal/client_ip.py).
def networks(name):
    """A list of addresses or networks from NAME; each one that is neither is a problem."""
    found = env.list(name, default=[])
    for entry in found:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            problems.append(f"{name}: {entry!r} is not an address or network")
    return found


TRUSTED_PROXIES = networks("TRUSTED_PROXIES")

# --- login brute-force protection (django-axes) ------------------------------------
# An address that fails LOGIN_FAILURE_LIMIT logins in a row (site or admin) is
# locked out for LOGIN_COOLOFF_MINUTES, counted from its last failure; axes'
# own default would lock it out for good until an administrator steps in.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_COOLOFF_MINUTES", default=15.0))
# By address only: locking out a user name would let anyone lock a colleague out.
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "memories_portal.client_ip.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# --- signing in with the company's identity provider (OpenID Connect) ---------------
# Set OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (or _FILE) to offer it on the
# login page (docs/sign-in.md); without them local logins are all there is. People are
# matched by the provider's `sub`, never by email.
OIDC_ISSUER = env.str("OIDC_ISSUER", default="").rstrip("/")
OIDC_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_CLIENT_SECRET = secret("OIDC_CLIENT_SECRET")
OIDC_ENABLED = bool(OIDC_ISSUER and OIDC_CLIENT_ID and OIDC_CLIENT_SECRET)
if (OIDC_ISSUER or OIDC_CLIENT_ID or OIDC_CLIENT_SECRET) and not OIDC_ENABLED:
    problems.append("OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET go together")
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="the company account")
# The claim that lists a person's groups, and the scopes asked for (some providers send
# groups only when a "groups" scope is asked for: add it here).
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
OIDC_SCOPES = env.list("OIDC_SCOPES", default=["openid", "profile", "email"])
# 1: the directory owns every membership, those made by hand too (each sign-in removes
# what no group gives). 0: memberships made by hand stay.
OIDC_GROUPS_ARE_AUTHORITATIVE = env.bool("OIDC_GROUPS_ARE_AUTHORITATIVE", default=False)
# 1: the login page offers the provider alone; superusers still log in with a password
# at /admin/login/ (the break-glass way in, docs/sign-in.md).
OIDC_ONLY = env.bool("OIDC_ONLY", default=False)
if OIDC_ONLY and not OIDC_ENABLED:
    problems.append("OIDC_ONLY=1 needs OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET")
SOCIALACCOUNT_PROVIDERS = socialaccount_providers(
    issuer=OIDC_ISSUER if OIDC_ENABLED else "",
    client_id=OIDC_CLIENT_ID,
    secret=OIDC_CLIENT_SECRET,
    name=OIDC_PROVIDER_NAME,
    scopes=OIDC_SCOPES,
)
SOCIALACCOUNT_ADAPTER = "uploads.signin.adapters.PortalSocialAccountAdapter"
ACCOUNT_ADAPTER = "uploads.signin.adapters.PortalAccountAdapter"
# No allauth pages of its own: no sign-up, no email confirmation, no email matching.
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_STORE_TOKENS = False
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = False
ACCOUNT_LOGOUT_ON_GET = False

# --- HTTPS and browser protections --------------------------------------------------
# BEHIND_TLS_PROXY=1: a reverse proxy terminates TLS and sets X-Forwarded-Proto
# (it must overwrite a client's own header). Then plain HTTP is redirected,
# browsers are told to use HTTPS only (HSTS), and cookies are sent only over HTTPS.
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Load balancers check health over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^healthz/workers$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# The HSTS preload list takes whole registrable domains, from their apex: a
# decision for the domain's owner that the portal's own header cannot make.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content Security Policy: scripts and styles only from the portal's own static
# files (htmx included); an inline script needs the request's nonce
# (<script nonce="{{ csp_nonce }}">). The admin's scripts are all files too.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
if OIDC_ENABLED:
    # The sign-in button and the logout form are answered with a redirect to the
    # provider, which form-action must allow too.
    _issuer = urlsplit(OIDC_ISSUER)
    SECURE_CSP["form-action"].append(f"{_issuer.scheme}://{_issuer.netloc}")

# --- operations -----------------------------------------------------------------
# Each kind of background process (sender, batches, notifications, periodic) writes
# its heartbeat every HEARTBEAT_INTERVAL_SECONDS (uploads/heartbeats.py);
# /healthz/workers answers 503 naming each kind whose last beat is older than
# HEALTH_MAX_HEARTBEAT_AGE_SECONDS. A process whose one task or pass has run longer
# than HEALTH_MAX_WORK_SECONDS stops beating: it is alive but stuck.
HEARTBEAT_INTERVAL_SECONDS = env.float("HEARTBEAT_INTERVAL_SECONDS", default=10.0)
HEALTH_MAX_HEARTBEAT_AGE_SECONDS = env.float("HEALTH_MAX_HEARTBEAT_AGE_SECONDS", default=60.0)
HEALTH_MAX_WORK_SECONDS = env.float("HEALTH_MAX_WORK_SECONDS", default=900.0)
if HEALTH_MAX_HEARTBEAT_AGE_SECONDS <= HEARTBEAT_INTERVAL_SECONDS:
    problems.append(
        "HEALTH_MAX_HEARTBEAT_AGE_SECONDS must be longer than HEARTBEAT_INTERVAL_SECONDS, "
        "or every process would look dead between two beats"
    )

# /metrics (Prometheus) answers requests from these addresses or networks (the client's
# address as TRUSTED_PROXIES lets it be read), or bearing METRICS_TOKEN
# ("Authorization: Bearer ..."); everyone else gets 403. Both unset: no one may read it.
METRICS_ALLOWED_IPS = networks("METRICS_ALLOWED_IPS")
METRICS_TOKEN = secret("METRICS_TOKEN")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    problems.append("METRICS_TOKEN must be at least 32 characters (a random secret)")
# prometheus_client's multiprocess mode: every process of a host (web workers, task
# workers, run_periodic) writes its counters under this directory, which /metrics adds
# up. Set it in the environment of all of them (make run and the Procfile do); it is
# made here if missing. Unset: each process counts for itself alone.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    try:
        os.makedirs(PROMETHEUS_MULTIPROC_DIR, exist_ok=True)
    except OSError as exc:
        problems.append(
            f"PROMETHEUS_MULTIPROC_DIR={PROMETHEUS_MULTIPROC_DIR} cannot be made ({exc})"
        )

# One line per record, the same shape from web, worker and periodic processes;
# LOG_FORMAT=json gives one JSON object per line (memories_portal/logging.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    problems.append(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_callback_tokens": {"()": "memories_portal.logging.MaskCallbackTokens"}},
    "formatters": {
        "portal": {"()": "memories_portal.logging.PortalFormatter", "json": LOG_FORMAT == "json"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "portal",
            "filters": ["mask_callback_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Everything through the one handler above (Django's own handlers
        # would print some records twice, in another shape).
        "django": {"level": "INFO"},
        # Their 404 and access lines carry request paths, which hold callback
        # tokens: masked on the logger, before any handler sees them.
        "django.request": {"filters": ["mask_callback_tokens"]},
        "django.server": {"filters": ["mask_callback_tokens"]},
    },
}

# --- notifications (emails and team webhooks) ------------------------------------------
# EMAIL_URL: smtp://user:password@host:587 (STARTTLS with +tls: smtp+tls://...),
# smtps://user:password@host:465 (TLS from the start), consolemail:// (printed in the
# log). Unset: the console backend, as under `make run`; set it in production, or the
# emails are only in the log. Read with django-environ into Django's MAILERS.
MAIL_TIMEOUT_SECONDS = env.float("EMAIL_TIMEOUT", default=20.0)


def mailer_from_url(url):
    config = env.email_url_config(url)
    options = {}
    if config["EMAIL_BACKEND"].endswith(".smtp.EmailBackend"):
        options = {
            "host": config["EMAIL_HOST"],
            "port": config["EMAIL_PORT"],
            "username": config["EMAIL_HOST_USER"] or "",
            "password": config["EMAIL_HOST_PASSWORD"] or "",
            "timeout": MAIL_TIMEOUT_SECONDS,
        }
        if url.startswith("smtps://"):
            options["use_ssl"] = True
        elif config.get("EMAIL_USE_TLS"):
            options["use_tls"] = True
    return {"BACKEND": config["EMAIL_BACKEND"], "OPTIONS": options}


MAILERS = {"default": mailer_from_url(secret("EMAIL_URL") or "consolemail://")}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Memories Portal <portal@localhost>")
# A notification that cannot be delivered is tried again with backoff (base * 2**attempt
# seconds, capped) for this long; then it is given up and, for a webhook, its endpoint
# is disabled and the team's managers are emailed.
NOTIFY_RETRY_BASE_SECONDS = env.float("NOTIFY_RETRY_BASE_SECONDS", default=30.0)
NOTIFY_RETRY_MAX_SECONDS = env.float("NOTIFY_RETRY_MAX_SECONDS", default=3600.0)
NOTIFY_RETRY_FOR_SECONDS = env.float("NOTIFY_RETRY_FOR_SECONDS", default=24 * 3600.0)
# How long a worker holds a notification it is sending; one killed meanwhile leaves it
# to be sent again once this runs out (run_periodic wakes a worker for it).
# A submission's place on a map: {lat} and {lon} are filled in; empty shows no link (an
# intranet may have a map of its own, or none).
MAP_URL = env.str(
    "MAP_URL", default="https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=15/{lat}/{lon}"
)
NOTIFY_KEEP_DAYS = env.float("NOTIFY_KEEP_DAYS", default=30.0)
NOTIFY_LEASE_SECONDS = env.float("NOTIFY_LEASE_SECONDS", default=120.0)
# A webhook delivery's whole exchange (DNS, connect, answer) must fit in this.
WEBHOOK_DEADLINE = env.float("WEBHOOK_DEADLINE", default=10.0)
# An email's whole SMTP exchange (EMAIL_TIMEOUT bounds each read) must fit in this.
EMAIL_DEADLINE = env.float("EMAIL_DEADLINE", default=60.0)
# A delivery outliving its lease would be claimed and sent again by another worker.
if max(WEBHOOK_DEADLINE, EMAIL_DEADLINE) >= NOTIFY_LEASE_SECONDS:
    problems.append(
        f"NOTIFY_LEASE_SECONDS ({NOTIFY_LEASE_SECONDS:g}) must be longer than WEBHOOK_DEADLINE "
        f"({WEBHOOK_DEADLINE:g}) and EMAIL_DEADLINE ({EMAIL_DEADLINE:g}), or a slow delivery "
        "would be claimed and sent again while it is still under way"
    )
# Deliveries under way at once, in each notifications worker: emails and webhooks have
# threads of their own, so no endpoint delays an email; one at a time per endpoint.
NOTIFY_EMAIL_CONCURRENCY = env.int("NOTIFY_EMAIL_CONCURRENCY", default=2)
NOTIFY_WEBHOOK_CONCURRENCY = env.int("NOTIFY_WEBHOOK_CONCURRENCY", default=4)
if NOTIFY_EMAIL_CONCURRENCY < 1 or NOTIFY_WEBHOOK_CONCURRENCY < 1:
    problems.append("NOTIFY_EMAIL_CONCURRENCY and NOTIFY_WEBHOOK_CONCURRENCY must be at least 1")
# Host names whose webhooks may reach internal addresses (chat, CI on the intranet),
# on any port. Empty: webhooks get the same refusals as submitted video URLs.
WEBHOOK_ALLOWED_HOSTS = env.list("WEBHOOK_ALLOWED_HOSTS", default=[])
# Superusers are emailed when more than this many submissions need review, or the
# oldest has waited longer than NEEDS_REVIEW_ALERT_AGE_SECONDS (once per episode).
NEEDS_REVIEW_ALERT_COUNT = env.int("NEEDS_REVIEW_ALERT_COUNT", default=20)
NEEDS_REVIEW_ALERT_AGE_SECONDS = env.float("NEEDS_REVIEW_ALERT_AGE_SECONDS", default=3600.0)
# The daily digest leaves at this hour of each person's own time zone.
DIGEST_HOUR = env.int("DIGEST_HOUR", default=8)

# Test-only: named points where this process pauses, so that a test can stall or kill it
# exactly there ("send.before_request=pause:1.6,batch.cancelling=pause"; uploads/faults.py
# lists the points). Empty in real use.
PORTAL_FAULTS = env.str("PORTAL_FAULTS", default="")

# How often run_periodic wakes up (heartbeat, recovery of abandoned sends, polling).
PERIODIC_INTERVAL_SECONDS = env.float("PERIODIC_INTERVAL_SECONDS", default=10.0)

# Transient database errors ("database is locked", a lost connection): the worker,
# its tasks and run_periodic wait DB_RETRY_BASE_SECONDS, doubling up to
# DB_RETRY_MAX_SECONDS, and try again; a task gives up after DB_RETRY_ATTEMPTS tries.
DB_RETRY_BASE_SECONDS = env.float("DB_RETRY_BASE_SECONDS", default=1.0)
DB_RETRY_MAX_SECONDS = env.float("DB_RETRY_MAX_SECONDS", default=30.0)
DB_RETRY_ATTEMPTS = env.int("DB_RETRY_ATTEMPTS", default=5)

# --- refuse to start half-configured ---------------------------------------------
if not DEBUG:
    missing = [
        name
        for name, value in [("SECRET_KEY", SECRET_KEY), ("ALLOWED_HOSTS", ALLOWED_HOSTS)]
        if not value
    ]
    if not MEMORIES_API_KEY and not MEMORIES_SANDBOX:
        missing.append("MEMORIES_API_KEY (or MEMORIES_SANDBOX=1 to send to the local sandbox)")
    if not SALT_KEY:
        missing.append("FIELD_ENCRYPTION_KEY (it encrypts the accounts' API keys)")
    if missing:
        problems.insert(0, "with DEBUG off it needs " + ", ".join(missing))
if problems:
    raise ImproperlyConfigured(
        "The portal cannot start: "
        + "; ".join(problems)
        + ". Set them in the environment or .env; a secret NAME may also be read "
        "from the file that NAME_FILE names. See docs/configuration.md. To try the portal "
        "on this machine, run the command with DEBUG=1, as `make run` does."
    )
