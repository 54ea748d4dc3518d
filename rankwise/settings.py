"""Rankwise settings. Everything comes from the environment; nothing else reads os.environ.

With nothing set, Rankwise runs on embedded defaults: SQLite and a filesystem Celery broker
under RANKWISE_DATA_DIR (default ./var), DEBUG on, and the tiny local model built by
`manage.py build_tiny_model`. Set DATABASE_URL and CELERY_BROKER_URL for PostgreSQL and Redis,
and RANKWISE_ENV=production for a deployment.
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default).strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}")


def envint(name: str, default: str) -> int:
    value = os.getenv(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


RANKWISE_ENV = os.getenv("RANKWISE_ENV", "development")
if RANKWISE_ENV not in ("development", "production"):
    raise ImproperlyConfigured(f"RANKWISE_ENV must be development or production, got {RANKWISE_ENV!r}")
PRODUCTION = RANKWISE_ENV == "production"

DATA_DIR = Path(os.getenv("RANKWISE_DATA_DIR", BASE_DIR / "var")).resolve()
# The embedded defaults keep the database and the broker here, so it must exist before either opens.
DATA_DIR.mkdir(parents=True, exist_ok=True)

if PRODUCTION:
    SECRET_KEY = os.getenv("SECRET_KEY", "")
    if len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("SECRET_KEY (32+ characters) is required when RANKWISE_ENV=production")
else:
    SECRET_KEY = os.getenv("SECRET_KEY", "rankwise-development-key-not-for-production-use-0123456789")

DEBUG = envbool("DEBUG", "false" if PRODUCTION else "true")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "csp",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "annotation",
    "training",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the session: a session cookie holding NUL never reaches the session store.
    "rankwise.middleware.InputGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "rankwise.middleware.RankwiseErrorMiddleware",
    # Last, as django-axes asks: it turns a login that it refused into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "rankwise.urls"
WSGI_APPLICATION = "rankwise.wsgi.application"

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

# Seconds a web or worker thread keeps its database connection. Opening one per request costs
# PostgreSQL a backend process each time (bench/annotation_load.py: about half of a cheap request);
# the development server starts a thread per request, so there it would only leak connections.
# Health checks replace a connection that a database restart broke before a request uses it.
_CONN_MAX_AGE = envint("DATABASE_CONN_MAX_AGE", "60" if PRODUCTION else "0")
DATABASES = {
    "default": dj_database_url.parse(
        os.getenv("DATABASE_URL", f"sqlite:///{DATA_DIR / 'rankwise.sqlite3'}"),
        conn_max_age=_CONN_MAX_AGE,
        conn_health_checks=_CONN_MAX_AGE != 0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side binding lets psycopg prepare a statement once it ran 5 times on a connection:
    # the annotate doors run the same dozen statements on every request, and planning them anew
    # cost PostgreSQL more CPU than running them (bench/annotation_load.py).
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web requests and the embedded worker write concurrently: wait for the lock, don't fail.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = (
    [
        {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
        {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    ]
    if PRODUCTION
    else []
)
# django-axes first: it refuses a locked-out login before any password is checked, on every door that
# calls authenticate() with the request (/login/ and /admin/login/ alike).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.getenv("RANKWISE_STATIC_ROOT", DATA_DIR / "staticfiles")).resolve()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = DATA_DIR / "media"

# Uploads larger than this spill to a temporary file, so imports stream from disk.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
RANKWISE_MAX_UPLOAD_BYTES = envint("RANKWISE_MAX_UPLOAD_BYTES", str(1024 * 1024 * 1024))

SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "true" if PRODUCTION else "false")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000" if PRODUCTION else "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rankwise.api.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "rankwise.api.errors.exception_handler",
    # DRF's parsers, refusing too deep nesting, NUL and out-of-range integers (docs/api.md).
    "DEFAULT_PARSER_CLASSES": [
        "rankwise.api.parsers.JSONParser",
        "rankwise.api.parsers.FormParser",
        "rankwise.api.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rankwise.api.throttling.AnonRateThrottle",
        "rankwise.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.getenv("RANKWISE_THROTTLE_ANON", "60/min"),
        "user": os.getenv("RANKWISE_THROTTLE_USER", "1200/min"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Rankwise API",
    "DESCRIPTION": "Preference data collection and training runs. Guide with examples: docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema names every endpoint; signed-in users (session or token) only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Snapshots, runs and generation jobs each have a Status (runs and jobs share one set): name them.
    "ENUM_NAME_OVERRIDES": {
        "SnapshotStatusEnum": "training.models.DatasetSnapshot.Status",
        "RunStatusEnum": "training.models.Run.Status",
        "ArenaStatusEnum": "training.models.Arena.Status",
        "JudgmentSourceEnum": "annotation.models.Judgment.Source",
        "GenerationSourceEnum": "training.models.GenerationJob.Source",
        "ReviewStateEnum": "annotation.api.review.STATES",
        "ReviewReasonEnum": "annotation.api.review.REASON_CHOICES",
    },
}

# Login counters (django-axes) and API throttles live in the cache. Several web processes must share
# it, or each counts alone and a limit of N lets N × processes through: production requires Redis.
_CACHE_URL = os.getenv("RANKWISE_CACHE_URL", "")
if _CACHE_URL:
    if not _CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            f"RANKWISE_CACHE_URL must be a redis://, rediss:// or unix:// URL, got {_CACHE_URL!r}"
        )
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _CACHE_URL,
            # Deployments (or test runs) that share one Redis database keep apart by prefix.
            "KEY_PREFIX": os.getenv("RANKWISE_CACHE_KEY_PREFIX", "rankwise"),
        }
    }
elif PRODUCTION:
    raise ImproperlyConfigured(
        "RANKWISE_CACHE_URL (a Redis shared by every web process, e.g. redis://127.0.0.1:6379/1) is"
        " required when RANKWISE_ENV=production: login limits and API throttles count there"
    )
else:
    # One development process: its own memory is shared enough. axes warns about a local cache.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SILENCED_SYSTEM_CHECKS = ["axes.W001"]

# Addresses (or networks) of the reverse proxies whose X-Forwarded-For is believed; nobody's by default.
# Behind them the client is the right-most address in that header that is not a trusted proxy
# (rankwise/client_address.py); login limits and anonymous throttles key on it.
RANKWISE_TRUSTED_PROXIES = envlist("RANKWISE_TRUSTED_PROXIES", "")
for _proxy in RANKWISE_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"RANKWISE_TRUSTED_PROXIES must list IP addresses or networks, got {_proxy!r}"
        ) from None

# Login limits (django-axes, docs/deploy.md "Login limits"): after RANKWISE_LOGIN_ATTEMPTS failures for
# one username from one client address, that pair is refused (429) until RANKWISE_LOGIN_COOLOFF_SECONDS
# have passed since its last counted failure. Keyed on the pair, so an attacker's failures never lock
# the owner out from another address; the cool-off bounds a lockout shared behind one address.
RANKWISE_LOGIN_ATTEMPTS = envint("RANKWISE_LOGIN_ATTEMPTS", "10")
RANKWISE_LOGIN_COOLOFF_SECONDS = envint("RANKWISE_LOGIN_COOLOFF_SECONDS", "900")
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = RANKWISE_LOGIN_ATTEMPTS
AXES_COOLOFF_TIME = timedelta(seconds=RANKWISE_LOGIN_COOLOFF_SECONDS)
# Attempts during a lockout neither count nor extend it: the lockout ends one cool-off after it began.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The owner's own typos do not pile up across successful logins.
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "rankwise.client_address.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The cache handler writes no rows, so the admin pages for them would only ever be empty.
AXES_ENABLE_ADMIN = False

# Content-Security-Policy on every response (django-csp; Django 6.0 has its own in
# django.middleware.csp). Scripts only from our own static files: no inline <script>, no on*=
# handlers, no eval. json_script data blocks are not scripts and need nothing. Style attributes stay
# allowed (style-src-attr): the sanitiser keeps text-align on rendered table cells, and bar widths are
# set inline; <style> elements and stylesheets elsewhere are not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Celery: a filesystem broker under the data directory unless CELERY_BROKER_URL is set.
CELERY_BROKER_URL = os.getenv("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = DATA_DIR / "celery-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Exchange tables; kombu's default is ./control, relative to whichever directory a process starts in.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    (_broker_dir / "queue").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "false")
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "training.tasks.jobs_reap": {"queue": "default"},
    "training.tasks.jobs_dispatch": {"queue": "default"},
    "training.tasks.arena_build": {"queue": "default"},
    "training.tasks.*": {"queue": "gpu"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# The model used by the demo and tests when no other is named: built locally, never downloaded.
RANKWISE_DEFAULT_MODEL = os.getenv("RANKWISE_DEFAULT_MODEL", str(DATA_DIR / "models" / "tiny-llama"))
# Folders on the workers' disk that base models given as a path may come from, besides
# $RANKWISE_DATA_DIR/models and the default model's folder (comma-separated). Run outputs are reached
# by model version, never by path: a path elsewhere (another project's run) is refused.
RANKWISE_MODEL_ROOTS = [Path(root).resolve() for root in envlist("RANKWISE_MODEL_ROOTS", "")]
# Python interpreter that runs the training engine subprocess.
RANKWISE_ENGINE_PYTHON = os.getenv("RANKWISE_ENGINE_PYTHON", "")
# A running run whose heartbeat is older than this is marked failed (its worker died).
RANKWISE_RUN_STALE_SECONDS = envint("RANKWISE_RUN_STALE_SECONDS", "60")
# Generation jobs from an OpenAI-compatible endpoint (vLLM, TGI...): base URL, default model, API key.
RANKWISE_OPENAI_BASE_URL = os.getenv("RANKWISE_OPENAI_BASE_URL", "")
RANKWISE_OPENAI_MODEL = os.getenv("RANKWISE_OPENAI_MODEL", "")
RANKWISE_OPENAI_API_KEY = os.getenv("RANKWISE_OPENAI_API_KEY", "")
# Celery beat (`celery -A rankwise beat`), every minute: fails the runs, generation and scoring jobs
# whose worker died (each worker also does once at start), sends the tasks that a broker outage kept
# from being queued, marks the leases that ran out as expired and renders texts without stored HTML.
CELERY_BEAT_SCHEDULE = {
    task.rpartition(".")[2]: {"task": task, "schedule": 60.0, "options": {"queue": "default"}}
    for task in (
        "training.tasks.jobs_reap",
        "training.tasks.jobs_dispatch",
        "annotation.tasks.leases_expire",
        "annotation.tasks.texts_prerender",
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
}
