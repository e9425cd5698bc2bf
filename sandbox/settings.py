"""Prompt Sandbox settings, all from the environment.

Checked out and installed, with no environment at all, it runs the embedded
default: DEBUG on, SQLite under var/, the stub model, and a filesystem broker
that needs no server. Production (docker compose) sets DEBUG=False, SECRET_KEY,
DATABASE_URL and REDIS_URL. Every variable is listed in .env.example.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from graders import limits as grader_caps

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default)
    if value not in ("True", "False"):
        raise ImproperlyConfigured(f"{name} must be True or False, not {value!r}")
    return value == "True"


def envint(name: str, default: str) -> int:
    value = os.getenv(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def envfloat(name: str, default: str) -> float:
    value = os.getenv(name, default)
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


def envsecret(name: str, default: str = "") -> str:
    """Return NAME, or the contents of the file NAME_FILE names (Docker secrets)."""
    path = os.getenv(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as e:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {e}") from None
    return os.getenv(name, default)


DEBUG = envbool("DEBUG", "True")
DATA_DIR = Path(os.getenv("SANDBOX_DATA_DIR", str(BASE_DIR / "var")))

SECRET_KEY = envsecret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=False")
    SECRET_KEY = "embedded-default-only-not-for-production"

ALLOWED_HOSTS = [h for h in os.getenv("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.getenv("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "template_partials",
    "sandbox",
    "lessons",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "sandbox.middleware.RequestGuardMiddleware",  # before anything reads a body
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "sandbox.urls"
WSGI_APPLICATION = "sandbox.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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

# SQLite in WAL mode with IMMEDIATE transactions and a busy timeout, so the web process and
# the worker's threads queue for the write lock instead of failing with "database is locked".
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
DATABASES = {
    "default": dj_database_url.parse(
        os.getenv("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pool per process: a worker runs dozens of threads, and PostgreSQL allows about
    # a hundred connections; a thread borrows a connection per task and gives it back.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "pool": {"min_size": 1, "max_size": envint("DATABASE_POOL_SIZE", "20"), "timeout": 30}
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Brute force: after AXES_FAILURE_LIMIT wrong passwords for one username (from any address,
# so a spoofed X-Forwarded-For does not help) it is locked for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", "15"))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Locking by address as well would lock everyone behind one proxy or NAT at once, and
# the address is easy to rotate anyway; the username is what an attacker cannot change.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "ls-courses"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# In the embedded default, WhiteNoise serves straight from the apps' static folders.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "True")
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000")
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Input caps: a whole request; a prompt field; what import_course and the editor accept.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", "262144")
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000  # the case editor: 200 cases × (7 + 1 per variable)
MAX_PROMPT_CHARS = envint("MAX_PROMPT_CHARS", "8000")
# The whole prompt sent, placeholders filled in (a case input may be a long document).
MAX_RENDERED_PROMPT_CHARS = envint("MAX_RENDERED_PROMPT_CHARS", "200000")
MAX_COURSE_FILE_BYTES = envint("MAX_COURSE_FILE_BYTES", "1000000")  # a course file; a YAML text
MAX_YAML_DEPTH = envint("MAX_YAML_DEPTH", "50")  # nesting levels (at most 200)
MAX_YAML_NODES = envint("MAX_YAML_NODES", "20000")  # values in one YAML, aliases expanded
MAX_MARKDOWN_CHARS = envint("MAX_MARKDOWN_CHARS", "100000")  # a lesson body, instructions
# The graders' caps: GRADER_<name> for each name in graders/limits.py (GRADER_MAX_JSON_DEPTH, ...).
GRADER_CAPS = {name: envint(f"GRADER_{name}", str(v)) for name, v in grader_caps.DEFAULTS.items()}

# Model backends. The stub is the offline default; its latency and failure rate are for tests.
STUB_LATENCY_MS = envint("STUB_LATENCY_MS", "0")
STUB_FAILURE_RATE = envfloat("STUB_FAILURE_RATE", "0")
if not 0 <= STUB_FAILURE_RATE <= 1:
    raise ImproperlyConfigured("STUB_FAILURE_RATE must be between 0 and 1")

# Real providers: a backend whose key is absent is shown as unavailable.
OPENAI_API_KEY = envsecret("OPENAI_API_KEY")
OPENAI_BASE_URL = os.getenv("OPENAI_BASE_URL", "")
ANTHROPIC_API_KEY = envsecret("ANTHROPIC_API_KEY")
ANTHROPIC_BASE_URL = os.getenv("ANTHROPIC_BASE_URL", "")
# The models exercises and the playground may use, with USD prices per million input and
# output tokens: "backend:model:in:out" separated by ";". Stub models are allowed and free.
SANDBOX_MODELS = os.getenv(
    "SANDBOX_MODELS",
    "openai:gpt-4o-mini:0.15:0.60;anthropic:claude-3-5-haiku-latest:0.80:4.00",
)
# Record real responses to files, or replay them offline: off, record or replay.
CASSETTE_MODE = os.getenv("CASSETTE_MODE", "off")
if CASSETTE_MODE not in ("off", "record", "replay"):
    raise ImproperlyConfigured("CASSETTE_MODE must be off, record or replay")
CASSETTE_DIR = Path(os.getenv("CASSETTE_DIR", str(BASE_DIR / "lessons" / "starter" / "cassettes")))

# Money and load. Every request asks for at most MAX_TOKENS_CEILING output tokens.
MAX_TOKENS_CEILING = envint("MAX_TOKENS_CEILING", "1024")
DAILY_TOKEN_BUDGET = envint("DAILY_TOKEN_BUDGET", "200000")  # per learner
DAILY_COST_BUDGET_USD = envfloat("DAILY_COST_BUDGET_USD", "1.00")  # per learner
GLOBAL_DAILY_SPEND_CAP_USD = envfloat("GLOBAL_DAILY_SPEND_CAP_USD", "50.00")  # all learners
SUBMISSIONS_PER_MINUTE = envint("SUBMISSIONS_PER_MINUTE", "10")  # per learner

# Retries live in one layer, sandbox.calls: the SDKs' own are off (max_retries=0) and Celery
# does not retry run_attempt, so a model call is sent at most PROVIDER_TRIES times.
PROVIDER_TIMEOUT = envfloat("PROVIDER_TIMEOUT", "30")  # seconds per HTTP call
PROVIDER_TRIES = envint("PROVIDER_TRIES", "3")
RETRY_BACKOFF_BASE = envfloat("RETRY_BACKOFF_BASE", "1")  # seconds, doubled per try, jittered
RETRY_BACKOFF_MAX = envfloat("RETRY_BACKOFF_MAX", "20")
# Timeouts nest: every try of every call < soft limit < lease (hard limit) < visibility.
ATTEMPT_SOFT_TIME_LIMIT = envint("ATTEMPT_SOFT_TIME_LIMIT", "180")
ATTEMPT_LEASE_SECONDS = envint("ATTEMPT_LEASE_SECONDS", "240")
BROKER_VISIBILITY_TIMEOUT = envint("BROKER_VISIBILITY_TIMEOUT", "600")
# An attempt delivered this many times without finishing is failed as poison.
MAX_DELIVERIES = envint("MAX_DELIVERIES", "3")
# The reconciler publishes again attempts queued longer than this (a lost message) and those
# running past their lease (a dead worker), at most RECONCILE_BATCH of each per pass.
RECONCILE_QUEUED_AFTER = envint("RECONCILE_QUEUED_AFTER", "60")
RECONCILE_EVERY = envint("RECONCILE_EVERY", "30")
RECONCILE_BATCH = envint("RECONCILE_BATCH", "1000")
# The most model calls (and judged gradings) one worker process runs at once, on one pool
# of threads started as needed: a class burst of 200 attempts × 3 cases needs 600.
MODEL_CALL_THREADS = envint("MODEL_CALL_THREADS", "1024")

# Celery. Redis when REDIS_URL is set; otherwise kombu's filesystem transport, which needs no
# server: messages are files under var/broker, shared by the processes on one machine.
REDIS_URL = os.getenv("REDIS_URL", "")
BROKER_DIR = DATA_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": BROKER_VISIBILITY_TIMEOUT}
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "sandbox.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.05,
    }
# Results live in our own tables (Attempt, Run): no result backend, no second copy.
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
# A task is acknowledged after it finishes, so a killed worker's message is redelivered; it
# claims with a conditional UPDATE, so that is safe (and the reconciler republishes it too).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Threads: an attempt holds one while its calls run (seconds), so a class's submissions run at once.
CELERY_WORKER_CONCURRENCY = envint("CELERY_WORKER_CONCURRENCY", "200")
# The queue the web and the workers share: sites (or benchmark runs) on one Redis keep theirs.
CELERY_TASK_DEFAULT_QUEUE = os.getenv("CELERY_QUEUE", "celery")
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": BROKER_VISIBILITY_TIMEOUT}
# Not enforced by the threads pool: sandbox.runs keeps the soft limit, the reconciler the lease.
CELERY_TASK_SOFT_TIME_LIMIT = ATTEMPT_SOFT_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = ATTEMPT_LEASE_SECONDS
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = envfloat("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", "20")
CELERY_BEAT_SCHEDULE = {
    "reconcile": {"task": "sandbox.reconcile", "schedule": float(RECONCILE_EVERY)},
    "lessons-reconcile": {"task": "lessons.reconcile", "schedule": float(RECONCILE_EVERY)},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# The response cache and single-flight locks: Redis when configured, else the database.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Each thread of a worker opens its own connections. Without driver_info, redis-py
            # reads its version from the package metadata and sends CLIENT SETINFO for each
            # one, which more than doubles the CPU time of a connect.
            "OPTIONS": {"driver_info": None},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "sandbox_cache",
        }
    }
# Each process's own memory, for values it may re-read every few seconds (the day's spend).
CACHES["local"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
