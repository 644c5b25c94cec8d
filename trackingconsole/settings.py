"""Settings, read from the environment (twelve-factor).

With no DATABASE_URL and no CELERY_BROKER_URL the console runs on embedded defaults: SQLite in WAL mode and
kombu's filesystem transport, both under ./var, so a newcomer needs no server at all.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("TRACKINGCONSOLE_VAR_DIR", default=str(BASE_DIR / "var")))
# Made here, whatever starts the process (bin/run, bin/test, a bare `celery worker -B`): beat's schedule file, the
# embedded database and the filesystem broker live in it, and beat dies silently without it.
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
_DEV_SECRET_KEY = "insecure-dev-key-change-me-in-production-0123456789"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Production mode (README): HTTPS only, behind a TLS-terminating proxy; `manage.py check --deploy` is clean.
PRODUCTION = env.bool("PRODUCTION", default=False)
if PRODUCTION:
    if SECRET_KEY == _DEV_SECRET_KEY:
        raise ImproperlyConfigured("PRODUCTION=true needs SECRET_KEY: a long random value of your own")
    DEBUG = False
    # The proxy terminates TLS and says so in X-Forwarded-Proto (it must overwrite what clients send).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

INSTALLED_APPS = [
    "apps.console.siteconfig.ConsoleAdminConfig",  # django.contrib.admin with the console as admin.site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc assets served by us: /v1/docs works offline
    "axes",  # sign-in lockout
    "corsheaders",  # CORS of the read/write API (the ingestion routes: apps.core.cors)
    "apps.core",
    "apps.datamarts",
    "apps.userpoints",
    "apps.activities",
    "apps.profiles",
    "apps.choices",
    "apps.dialects",
    "apps.console",
]

MIDDLEWARE = [
    # First, so that every answer of an ingestion route carries its CORS headers, a 500 included (spec 5).
    "apps.core.cors.IngestionCorsMiddleware",
    # The read/write API's CORS, only for API_CORS_ALLOWED_ORIGINS (see below).
    "corsheaders.middleware.CorsMiddleware",
    "apps.core.middleware.DialectErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The console's session, user and messages, skipped for the APIs' programs (apps/core/people_only.py).
    "apps.core.people_only.PeopleSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "apps.core.people_only.PeopleAuthenticationMiddleware",
    "apps.core.people_only.PeopleMessageMiddleware",
    # Console pages in the time zone of the reader's browser (a cookie set by console/timezone.js); UTC until known.
    "apps.console.timezones.ConsoleTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-csp's, with a fixed policy on the APIs' answers that are not pages.
    "apps.core.people_only.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its answer.
    "axes.middleware.AxesMiddleware",
]

# --- CORS (spec 5) ----------------------------------------------------------------------------------------------
# Ingestion routes accept any origin a datamart allows (apps.core.cors). The UserPoint and configuration API takes
# read and write keys, which do not belong in a web page: no CORS headers there unless an origin is listed here.
CORS_ALLOWED_ORIGINS = env.list("API_CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/v1/datamarts/\d+(?:/(?!user_activities$).*)?$"
CORS_ALLOW_HEADERS = ("accept", "authorization", "content-type", "x-api-key")
CORS_PREFLIGHT_MAX_AGE = 86400

# --- Console sign-in and page security (spec 8) ----------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out username before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
# Failures are counted per username, whatever the address: an attacker spreading guesses over many addresses is
# stopped too (at the price that they can lock a known username out for the cool-off time). Counting per address
# as well (LOGIN_LOCKOUT_BY_IP) also stops one address trying many usernames, but then five typos lock out every
# colleague behind the same office NAT; so it is a choice, off by default, and django-axes' warning that the
# address is not counted (axes.W006) is silenced only while it is off.
LOGIN_LOCKOUT_BY_IP = env.bool("LOGIN_LOCKOUT_BY_IP", default=False)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"] if LOGIN_LOCKOUT_BY_IP else ["username"]
SILENCED_SYSTEM_CHECKS = [] if LOGIN_LOCKOUT_BY_IP else ["axes.W006"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ADMIN = False  # the console registers the lockouts itself, for superusers only
AXES_LOCKOUT_TEMPLATE = "console/locked_out.html"
# How long a console list may spend counting its rows exactly before it shows PostgreSQL's estimate instead.
CONSOLE_COUNT_BUDGET_MS = env.int("CONSOLE_COUNT_BUDGET_MS", default=200)
# Lists the planner expects to hold more rows than this are not counted at all: their estimate is shown.
CONSOLE_COUNT_EXACT_MAX_ROWS = env.int("CONSOLE_COUNT_EXACT_MAX_ROWS", default=500_000)
# Behind a proxy, the last address of X-Forwarded-For (the one the proxy appended) is the client's.
ACCESS_LOG_TRUST_X_FORWARDED_FOR = env.bool("ACCESS_LOG_TRUST_X_FORWARDED_FOR", default=False)

# Every page says where its scripts, styles and images may come from: only this server (the console and the API
# docs need no CDN). Inline styles stay allowed: the admin's templates and the server-drawn charts use them; inline
# scripts do not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "trackingconsole.urls"
APPEND_SLASH = False

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
            ],
        },
    },
]

WSGI_APPLICATION = "trackingconsole.wsgi.application"

# --- Database -------------------------------------------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that a worker process started by the end-to-end tests sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while the worker writes; IMMEDIATE avoids lock-upgrade deadlocks.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # Off by default: the check is one more round trip per request (3.6 % of an accepted activity, bench/ingest).
    # Without it, a connection the server dropped fails the one request that uses it (a 5xx: nothing was
    # committed, so clients send again) and Django then closes it.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker and cache -----------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Fail fast when the broker is down: the payload is already committed and the sweep will pick it up.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 5, "max_retries": 1}
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="trackingconsole")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = False
INBOX_SWEEP_SECONDS = env.float("INBOX_SWEEP_SECONDS", default=15.0)
# A web process sends at most one drain nudge per this many seconds; payloads accepted meanwhile are covered by one
# trailing nudge at the end of the interval (apps/activities/inbox.py), so they wait at most this much longer.
INBOX_NUDGE_INTERVAL_SECONDS = env.float("INBOX_NUDGE_INTERVAL_SECONDS", default=0.1)
# Backpressure (apps/activities/backpressure.py, docs/scaling.md): while workers are draining and this many payloads
# or more wait, the ingestion routes that a client can retry answer 429 with Retry-After instead of accepting more.
# 0 turns it off. A web process counts the backlog at most once per INBOX_BACKLOG_CHECK_SECONDS.
INBOX_BACKLOG_LIMIT = env.int("INBOX_BACKLOG_LIMIT", default=10_000)
INBOX_BACKLOG_CHECK_SECONDS = env.float("INBOX_BACKLOG_CHECK_SECONDS", default=0.25)
INBOX_BACKLOG_RETRY_AFTER_SECONDS = env.int("INBOX_BACKLOG_RETRY_AFTER_SECONDS", default=1)
CELERY_BEAT_SCHEDULE = {
    "inbox-sweep": {"task": "apps.activities.tasks.inbox_sweep", "schedule": INBOX_SWEEP_SECONDS},
    # Time partitions created months ahead, and each datamart's retention (docs/partitioning.md).
    "partitions-daily": {
        "task": "apps.activities.partition_tasks.partitions_daily",
        "schedule": env.float("PARTITIONS_SECONDS", default=24 * 3600.0),
    },
}
# Not a `tasks` module, so not found by autodiscovery.
CELERY_IMPORTS = ("apps.activities.partition_tasks",)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

_cache_url = env.str("CACHE_URL", default="")
if _cache_url:
    CACHES = {"default": env.cache_url("CACHE_URL")}
elif CELERY_BROKER_URL.startswith("redis://"):
    # The cache must be shared by every web and worker process (drain nudges, rate limits).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CELERY_BROKER_URL}}
elif "DATABASE_URL" in env:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache_table"}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Auth, i18n, static ---------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# ISO dates with their time zone everywhere in the console (trackingconsole/formats/en/formats.py).
FORMAT_MODULE_PATH = ["trackingconsole.formats"]
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
LOGIN_URL = "/admin/login/"

# --- API ------------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.bodies.StrictJSONParser"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tracking console API",
    "DESCRIPTION": "mediarithmics, Segment-style, Braze and Thrivestack ingestion; UserPoint API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKey": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "The key itself, `Bearer <key>`, or `Basic base64(<key>:)`; `x-api-key` works too.",
            }
        }
    },
    "SECURITY": [{"ApiKey": []}],
    # The plain-Django-view routes (ingestion) are documented through apps.core.openapi's registry.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.openapi.openapi_postprocess",
    ],
}
# How long a process keeps the API keys and compartments it read (apps/core/localcache.py): a key revoked elsewhere
# is refused by every process within this bound (at once by the one that revoked it). 0: read them every time.
CONFIG_CACHE_SECONDS = env.float("CONFIG_CACHE_SECONDS", default=3.0)
if not 0 <= CONFIG_CACHE_SECONDS <= 5:
    raise ImproperlyConfigured("CONFIG_CACHE_SECONDS must be between 0 and 5 (the revocation bound, README)")
# Body limit of the mediarithmics activity route (spec 1.3); Django's own limit must not be lower.
ACTIVITY_MAX_BYTES = 512 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024

# Identity resolution guard (spec 1.3 step 2).
HYPER_POINT_MAX_IDENTIFIERS = env.int("HYPER_POINT_MAX_IDENTIFIERS", default=100)
HYPER_POINT_MAX_ACCOUNTS_PER_COMPARTMENT = env.int("HYPER_POINT_MAX_ACCOUNTS_PER_COMPARTMENT", default=4)
PIPELINE_BATCH_SIZE = env.int("PIPELINE_BATCH_SIZE", default=500)
PIPELINE_MAX_ATTEMPTS = env.int("PIPELINE_MAX_ATTEMPTS", default=5)
# Requests per minute per API key on the Braze /users/track and Thrivestack /api/* routes (counted in CACHES).
BRAZE_RATE_LIMIT_PER_MINUTE = env.int("BRAZE_RATE_LIMIT_PER_MINUTE", default=50_000)
THRIVESTACK_RATE_LIMIT_PER_MINUTE = env.int("THRIVESTACK_RATE_LIMIT_PER_MINUTE", default=50_000)
# Benchmark-only routes (bench/ingest): never on in production.
BENCH_ENDPOINTS = env.bool("BENCH_ENDPOINTS", default=False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
ENV_PORT = env.int("PORT", default=8000)
