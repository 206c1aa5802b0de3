"""DentSignal settings, read from the environment with django-environ.

Every variable an operator sets is listed in `.env.example`; values that must agree
with others are computed here. The defaults are the embedded setup (SQLite, eager
Celery); Twilio needs the account's credentials, or TWILIO_SANDBOX=true for the
sandbox Twilio (scripts/dev and the tests set it).
"""

import datetime
import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from telephony import task_names
from telephony.webhook_paths import WEBHOOK_PATHS
from telephony.webhooks.twiml import AGENT_NOUNS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A `.env` beside manage.py is optional; real environment variables win.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# ---------------------------------------------------------------------------
# Core
# https://docs.djangoproject.com/en/5.2/ref/settings/
# ---------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it in the environment or in .env "
            "(see .env.example); only DJANGO_DEBUG=true runs without one."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Django's admin with our default site (dentsignal/staff_login.py): staff logins need a second factor.
    "dentsignal.apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "clinics",
    "telephony",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session gave its second factor.
    "django_otp.middleware.OTPMiddleware",
    # Ends sessions idle or old past their limits (STAFF_SESSION_*), saying why on the login page.
    "dentsignal.session_limits.SessionLimitsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "dentsignal.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: answers a locked-out login with the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dentsignal.urls"
WSGI_APPLICATION = "dentsignal.wsgi.application"

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

# ---------------------------------------------------------------------------
# Database: SQLite file in the project unless DATABASE_URL says otherwise.
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
# ---------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'dentsignal.sqlite3'}")}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (runserver, eager tasks) write; wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # The embedded default's files live in var/ (git-ignored): a fresh clone has none.
    VAR_DIR.mkdir(exist_ok=True)
else:
    # Persistent connections, as Django documents them: a connection lives up to
    # CONN_MAX_AGE seconds; with CONN_HEALTH_CHECKS off no request pays a `SELECT 1`
    # round trip before its first query, and a connection that broke while idle (a
    # database restart, a firewall) fails at most one request per worker: Django
    # closes it at the end of that request. Turn the checks on (or lower the age below
    # the firewall's idle timeout) where idle connections are cut often.
    # https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("DATABASE_CONN_HEALTH_CHECKS", default=False))
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        # Parameters bound by the server and statements prepared after 5 runs: PostgreSQL
        # parses and plans the webhooks' few statements once per connection, not per
        # request (~40% less database CPU per webhook, bench/profile_webhooks.py). Turn
        # off behind a transaction-mode pooler without prepared-statement support.
        # https://docs.djangoproject.com/en/5.2/ref/databases/#server-side-parameters-binding
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
    # Seconds a new connection may take (libpq's connect_timeout). A database host that
    # is down or unreachable then fails a webhook within seconds, so Twilio gets a 5xx
    # well inside its 15 s webhook timeout and calls the number's fallback URL instead.
    # https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-CONNECT-TIMEOUT
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: per-process memory by default; set CACHE_URL=redis://… in production so
# that limits (the provisioning API's rate limit) hold across web processes.
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-cache-url
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# ---------------------------------------------------------------------------
# Auth, i18n, static files
# ---------------------------------------------------------------------------
# django-axes first: it refuses a locked-out username before any password is checked.
# https://django-axes.readthedocs.io/en/latest/2_installation.html
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Staff logins resist theft (docs/settings.md, "Staff logins"):
# - a second factor (TOTP, django-otp) after the password, on by default whenever DEBUG is
#   off; staff without an authenticator are taken to enrol one after their password;
# Empty or unset follows DEBUG (django-environ would read an empty value as false).
STAFF_2FA_REQUIRED = env.bool("STAFF_2FA_REQUIRED") if env("STAFF_2FA_REQUIRED", default="") else not DEBUG
if not STAFF_2FA_REQUIRED and not DEBUG:
    raise ImproperlyConfigured("STAFF_2FA_REQUIRED=false is only allowed with DJANGO_DEBUG=true.")
# Seconds between the password and the code: past this the login starts again.
STAFF_2FA_PENDING_SECONDS = 300
# The name authenticator apps show for our codes.
OTP_TOTP_ISSUER = "DentSignal"
# - failed logins (wrong password or wrong code) lock that username from that address out
#   for a while after STAFF_LOGIN_FAILURE_LIMIT in a row (django-axes);
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
STAFF_LOGIN_FAILURE_LIMIT = env.int("STAFF_LOGIN_FAILURE_LIMIT", default=5)
STAFF_LOGIN_COOLOFF_MINUTES = env.int("STAFF_LOGIN_COOLOFF_MINUTES", default=15)
if STAFF_LOGIN_FAILURE_LIMIT < 1 or STAFF_LOGIN_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured("STAFF_LOGIN_FAILURE_LIMIT and STAFF_LOGIN_COOLOFF_MINUTES must be at least 1.")
AXES_FAILURE_LIMIT = STAFF_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = datetime.timedelta(minutes=STAFF_LOGIN_COOLOFF_MINUTES)
# Username and address together: a stranger cannot lock a colleague out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "dentsignal.staff_login.lockout_response"
# - sessions end after STAFF_SESSION_IDLE_MINUTES without a request, and in any case
#   STAFF_SESSION_MAX_HOURS after the login (dentsignal/session_limits.py).
STAFF_SESSION_IDLE_MINUTES = env.int("STAFF_SESSION_IDLE_MINUTES", default=30)
STAFF_SESSION_MAX_HOURS = env.int("STAFF_SESSION_MAX_HOURS", default=12)
if STAFF_SESSION_IDLE_MINUTES < 1 or STAFF_SESSION_MAX_HOURS < 1:
    raise ImproperlyConfigured("STAFF_SESSION_IDLE_MINUTES and STAFF_SESSION_MAX_HOURS must be at least 1.")
# The cookie outlives no session: it lasts as long as the absolute limit.
SESSION_COOKIE_AGE = STAFF_SESSION_MAX_HOURS * 3600
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))

# ---------------------------------------------------------------------------
# Security (production values unless DEBUG). `manage.py check --deploy` is clean
# with DJANGO_SECRET_KEY set and DJANGO_DEBUG off.
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
# ---------------------------------------------------------------------------
# Behind a TLS-terminating proxy Django sees plain HTTP; only a proxy that sets
# X-Forwarded-Proto itself (and drops the client's) may be trusted to say "https", so it
# is opt-in: otherwise any client could claim https with that header.
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
DJANGO_TRUST_X_FORWARDED_PROTO = env.bool("DJANGO_TRUST_X_FORWARDED_PROTO", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if DJANGO_TRUST_X_FORWARDED_PROTO else None
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# A redirect answers no webhook: Twilio wants TwiML or a 2xx from the URL it called, and a
# 301 is neither (issue 12, hole 7). The signature over the public URL, not the scheme
# Django sees, proves a webhook is Twilio's. So the webhook paths (all of them, from the
# one list in telephony/webhook_paths.py) are never redirected to https. Django matches
# these regexes against the path without its leading slash.
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-redirect-exempt
SECURE_REDIRECT_EXEMPT = [rf"^{re.escape(path.lstrip('/'))}$" for path in WEBHOOK_PATHS]
APPEND_SLASH = True

# ---------------------------------------------------------------------------
# Celery: eager in-process when CELERY_BROKER_URL is empty (embedded default).
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# ---------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A provisioning task may be delivered again after a worker dies; the task is
# idempotent (the number is reserved on the clinic row before the purchase), so
# acknowledge late and requeue on worker loss rather than lose the task.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Time limits and redelivery must agree with each other, so one value is set (how long
# one run of a task may take) and the others are computed from it here.
# Explicit limits: a Twilio call (TWILIO_HTTP_TIMEOUT) times out long before these.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
# Seconds a send waits on Redis to connect or answer (see the transport options below).
CELERY_BROKER_SOCKET_TIMEOUT = 2.5
# The soft limit raises SoftTimeLimitExceeded in the task first and leaves it a third of
# the time to record the failure before the worker kills it.
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT * 2 // 3
# The longest countdown a task's retry waits (telephony.tasks caps its backoff at this).
TASK_RETRY_COUNTDOWN_MAX_SECONDS = 300
# Two queues. Celery's default one carries the work people wait for (provisioning,
# release, webhook updates, moves, reminders, A2P steps, the re-drive, the fallbacks'
# upkeep). Rate-limited and long tasks go to their own queue, consumed by its own worker
# (README, "Deploying"): a rate-limited task waiting for its turn holds its worker's
# prefetch slot, so on a shared queue a burst of them stalls everything behind it
# (celery/celery#8119, documented by #10291), and a rate limit is per worker instance,
# global only when one worker consumes the task's queue (Task.rate_limit). Without a
# broker (eager Celery) routes do not apply: every task runs in the process that sent it.
# https://docs.celeryq.dev/en/stable/userguide/routing.html#automatic-routing
CELERY_TASK_DEFAULT_QUEUE = "celery"
TASK_QUEUE_SLOW = "slow"
CELERY_TASK_ROUTES = {
    name: {"queue": TASK_QUEUE_SLOW}
    for name in (
        task_names.A2P_REGISTRATION_POLL,  # rate-limited to Trust Hub's ~1 request/s
        task_names.A2P_REGISTRATIONS_POLL,  # beat: polls within A2P_POLL_TICK_BUDGET_SECONDS, paced per account
        task_names.HOSTED_ORDERS_POLL,  # beat: hosted SMS orders, paced like the A2P poll
        task_names.PORTS_IN_POLL,  # beat: up to 50 port-ins, paced 1 request/s
        task_names.RUN_NUMBER_AUDIT,  # lists every account, FLEET_CONCURRENCY at a time
        task_names.NUMBER_AUDIT_SWEEP,  # beat: sends the one above
        task_names.REFRESH_ALL_USAGE,  # beat, daily: every subaccount's usage, FLEET_CONCURRENCY at a time
        task_names.REFRESH_CLINIC_USAGE,  # one clinic's, asked for on its page: a Twilio request
        task_names.REDACT_EXPIRED_RECORDS,  # beat, hourly: up to RETENTION_BATCH_SIZE Twilio requests per kind
    )
}
# Seconds between two Trust Hub requests of a poll (telephony/a2p/registration.py): Trust Hub
# allows about one request per second per account (telephony.twilio.TRUST_HUB_PACE_SECONDS,
# which also rate-limits the poll task). The test settings set 0: no test waits for it unless
# the pacing is what it checks.
A2P_TRUST_HUB_PACE_SECONDS = 1.0
# Fleet operations (the number audit, usage, per-account sweeps) fan out over the accounts
# (telephony/fleet.py): FLEET_CONCURRENCY requests in flight at once, each account's retryable
# failure (429, 5xx) tried FLEET_ATTEMPTS times, after Twilio's Retry-After when it sends one;
# the audit's sweep writes its progress every FLEET_AUDIT_BATCH accounts (docs/operations.md,
# "Fleet operations at scale").
FLEET_CONCURRENCY = env.int("FLEET_CONCURRENCY", default=32)
FLEET_ATTEMPTS = 4
FLEET_AUDIT_BATCH = 500
if FLEET_CONCURRENCY < 1:
    raise ImproperlyConfigured(
        f"FLEET_CONCURRENCY (Twilio requests in flight at once) must be at least 1, not {FLEET_CONCURRENCY}."
    )
# Beat's A2P poll (telephony/a2p/polling.py, registrations_poll): every interval it polls the
# pending registrations least recently looked at first, this many at a time (each clinic's
# Trust Hub requests paced in its own account), and starts none after the budget (the fleet
# fan-out, telephony/fleet.py, with its own concurrency). Every
# pending registration is looked at again within ceil(pending / per tick) intervals, a tick
# polling at least concurrency x budget / seconds per poll (docs/a2p.md, "How often").
A2P_POLL_INTERVAL_SECONDS = 600
A2P_POLL_CONCURRENCY = env.int("A2P_POLL_CONCURRENCY", default=16)
A2P_POLL_TICK_BUDGET_SECONDS = env.int("A2P_POLL_TICK_BUDGET_SECONDS", default=240)
if A2P_POLL_CONCURRENCY < 1 or not 1 <= A2P_POLL_TICK_BUDGET_SECONDS <= A2P_POLL_INTERVAL_SECONDS // 2:
    raise ImproperlyConfigured(
        "A2P_POLL_CONCURRENCY (registrations polled at once) must be at least 1, and A2P_POLL_TICK_BUDGET_SECONDS "
        f"(the seconds one poll tick may start polls) between 1 and {A2P_POLL_INTERVAL_SECONDS // 2}, not "
        f"{A2P_POLL_CONCURRENCY} and {A2P_POLL_TICK_BUDGET_SECONDS}."
    )
# A Trust Hub status callback has its clinic polled at once; every other one for that
# clinic within this many seconds is merged into one more poll when they are over
# (telephony/a2p/polling.py, registration_poll_request): replays cannot flood.
A2P_POLL_COOLDOWN_SECONDS = env.int("A2P_POLL_COOLDOWN_SECONDS", default=60)
if A2P_POLL_COOLDOWN_SECONDS < 1:
    raise ImproperlyConfigured(
        "A2P_POLL_COOLDOWN_SECONDS (the seconds between two polls of a clinic that its Trust Hub callbacks ask for) "
        f"must be at least 1, not {A2P_POLL_COOLDOWN_SECONDS}."
    )
# Redis redelivers a message not acknowledged within the visibility timeout, and a retry
# waiting for its countdown is unacknowledged all that time: the timeout must exceed the
# wait behind one running task (prefetch 1) + the countdown + the run, or a task runs twice.
# https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#caveats
# Twice that, for margin. Tests set CELERY_VISIBILITY_TIMEOUT to see a dead worker's
# task come back within seconds; operators leave it computed. The longest countdown is a
# retry's or a coalesced A2P poll's (A2P_POLL_COOLDOWN_SECONDS).
# The longest run is the A2P poll tick's own time limit (its budget and a last poll's time).
_longest_countdown = max(TASK_RETRY_COUNTDOWN_MAX_SECONDS, A2P_POLL_COOLDOWN_SECONDS)
A2P_POLL_TICK_TIME_LIMIT = A2P_POLL_TICK_BUDGET_SECONDS + 60
_longest_run = max(CELERY_TASK_TIME_LIMIT, A2P_POLL_TICK_TIME_LIMIT)
_visibility_timeout = env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * (2 * _longest_run + _longest_countdown))
# A worker sweeps for messages whose worker died about ten times per visibility timeout:
# kombu's Redis transport sweeps every `interval x throttle` seconds.
_restore_period = max(1, _visibility_timeout // 10)
_restore_interval = min(_restore_period, 10)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _visibility_timeout,
    "unacked_restore_interval": _restore_interval,
    "unacked_restore_throttle": max(1, _restore_period // _restore_interval),
    # Bounded waits on Redis (kombu's Redis transport, passed to redis-py): a broker that
    # is down or accepts connections and never answers fails a send within seconds
    # instead of holding a web worker (which also serves Twilio's webhooks). The read
    # timeout stays above the worker's 1 s BRPOP poll.
    # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.redis.html
    "socket_connect_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
    "socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
}
# One quick publish retry, not Celery's default 3: a click with Redis hung or down answers
# within ~2 x CELERY_BROKER_SOCKET_TIMEOUT, keeps its committed state, and the clinic is
# marked for re-send at beat's next tick (telephony/queue.py).
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-publish-retry-policy
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = CELERY_BROKER_SOCKET_TIMEOUT
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A clinic in provisioning/releasing longer than this has lost its task (a crash
# between commit and broker, or a dropped message): Celery beat re-sends it. A clinic
# whose send failed (Redis down or hung) is re-sent at beat's next tick.
NUMBER_STUCK_AFTER_SECONDS = env.int("NUMBER_STUCK_AFTER_SECONDS", default=600)
# How often beat's re-drive runs: work whose send failed runs within one period (plus the
# worker's reconnection, at most 30 s) of the task queue's return.
REDRIVE_PERIOD_SECONDS = env.int("REDRIVE_PERIOD_SECONDS", default=60)
# A task that finds the database unreachable waits the outage out: sent again every half
# to one TASK_OUTAGE_RETRY_COUNTDOWN_MAX_SECONDS (so it resumes as soon after the return
# as the re-drive would), not counted against its retries, for TASK_OUTAGE_RETRY_SECONDS:
# past the stuck delay, so that when it stops (needing no database) the re-drive already
# counts its work as stuck and re-sends it once the database answers (12 min, 30 s).
TASK_OUTAGE_RETRY_COUNTDOWN_MAX_SECONDS = max(1, REDRIVE_PERIOD_SECONDS // 2)
TASK_OUTAGE_RETRY_SECONDS = NUMBER_STUCK_AFTER_SECONDS + 2 * REDRIVE_PERIOD_SECONDS
# Beat sleeps at most this long between two looks at its schedule. Celery's default, 300 s,
# was once seen to hold the re-drive back that long after Redis came back; one re-drive
# period bounds such a pause by the period itself.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#beat-max-loop-interval
CELERY_BEAT_MAX_LOOP_INTERVAL = REDRIVE_PERIOD_SECONDS
CELERY_BEAT_SCHEDULE = {
    "redrive-stuck-clinics": {"task": task_names.REDRIVE_STUCK_CLINICS, "schedule": float(REDRIVE_PERIOD_SECONDS)},
    # Patients' texts taken by the SMS fallback while the database was down: processed
    # once it is back (telephony/webhooks/fallbacks.py).
    "replay-fallback-sms": {"task": task_names.REPLAY_FALLBACK_SMS, "schedule": 60.0},
    # The fallback's office-line cache is refreshed on every clinic save that changes a
    # number or office line; this catches bulk updates that send no signal.
    "refresh-office-lines": {"task": task_names.REFRESH_OFFICE_LINES, "schedule": 600.0},
    # A2P 10DLC reviews take days; one poll every 10 minutes is plenty (paced to Trust Hub's 1 request/s).
    "a2p-registrations-poll": {"task": "telephony.tasks.a2p_registrations_poll", "schedule": float(A2P_POLL_INTERVAL_SECONDS)},
    # Hosted SMS orders move in days (verification, the signed authorization, the carrier): every 10 minutes.
    "hosted-orders-poll": {"task": task_names.HOSTED_ORDERS_POLL, "schedule": 600.0},
    # Port-ins are followed by polling: Twilio documents no way to authenticate porting webhooks.
    "ports-in-poll": {"task": task_names.PORTS_IN_POLL, "schedule": 600.0},
    # The copy of the subaccounts' sealed tokens (also rebuilt after every save that changes one): the
    # webhook signature check refuses an account the copy does not hold, so a rebuild that failed on a
    # save is caught up within two minutes.
    "refresh-account-tokens": {"task": task_names.REFRESH_ACCOUNT_TOKENS, "schedule": 120.0},
    # Each clinic's usage this month, from its subaccount's Usage/Records/ThisMonth (telephony/numbers/usage.py),
    # one fan-out over the subaccounts (telephony/fleet.py) saved in two upserts.
    "refresh-clinic-usage": {"task": task_names.REFRESH_ALL_USAGE, "schedule": 86400.0},
    # Texts and calls past MESSAGE_RETENTION_DAYS redacted here and at Twilio, a batch per run, and
    # departed clinics' patient data purged (telephony/retention/). Hourly: a backlog drains within a day.
    "redact-expired-records": {"task": task_names.REDACT_EXPIRED_RECORDS, "schedule": 3600.0},
    # The number audit's full sweep over every account (telephony/numbers/audit_runs.py): the safety net
    # behind the audit a clinic gets after each change of its number; an unfinished sweep is resumed.
    "number-audit-sweep": {"task": task_names.NUMBER_AUDIT_SWEEP, "schedule": 6 * 3600.0},
}

# ---------------------------------------------------------------------------
# Twilio
# Production needs the account's credentials and refuses to start without them: the
# webhooks check X-Twilio-Signature with TWILIO_AUTH_TOKEN, and a token nobody set must
# never be replaced by one anybody can read. TWILIO_SANDBOX=true (scripts/dev, the test
# settings, or a staging demo on purpose) runs on the sandbox Twilio (twilio_sandbox/,
# `manage.py twilio_sandbox`) with its published credentials: same SDK, same HTTP path,
# a local origin. With DEBUG off that is warned by `manage.py check --deploy`
# (telephony.W001), logged as an error by gunicorn, the worker and beat as they start,
# and reported as an error by `manage.py telephony_doctor`.
# ---------------------------------------------------------------------------
TWILIO_SANDBOX = env.bool("TWILIO_SANDBOX", default=False)
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
TWILIO_SANDBOX_URL = env("TWILIO_SANDBOX_URL", default="http://127.0.0.1:8765")
TWILIO_SANDBOX_DB = env("TWILIO_SANDBOX_DB", default=str(VAR_DIR / "twilio-sandbox.sqlite3"))
_twilio_credentials = {"TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN}
_missing_twilio = [name for name, value in _twilio_credentials.items() if not value]
if TWILIO_SANDBOX and len(_missing_twilio) == 2:
    # Imported only here: with production settings no twilio_sandbox module is loaded.
    from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

    TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN = SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
elif _missing_twilio:
    _names = " and ".join(_missing_twilio)
    raise ImproperlyConfigured(
        f"{_names} {'is' if len(_missing_twilio) == 1 else 'are'} not set. Production needs the Twilio account's "
        f"credentials: webhooks are accepted only when signed with TWILIO_AUTH_TOKEN. Set {_names} in the environment "
        "or in .env (see .env.example); to develop or test on the sandbox Twilio instead, set TWILIO_SANDBOX=true and "
        "leave both unset (scripts/dev does)."
    )
if TWILIO_SANDBOX:
    INSTALLED_APPS.append("twilio_sandbox")  # its `manage.py twilio_sandbox` command
TWILIO_API_BASE_URL = env(
    "TWILIO_API_BASE_URL", default=TWILIO_SANDBOX_URL if TWILIO_SANDBOX else "https://api.twilio.com"
).rstrip("/")
# Origin of the Messaging API (messaging.twilio.com); empty follows TWILIO_API_BASE_URL
# when that points at a mock. Only tests against Prism need it.
TWILIO_MESSAGING_API_BASE_URL = env("TWILIO_MESSAGING_API_BASE_URL", default="")
# Origin of the Pricing API (pricing.twilio.com, the monthly price of a number shown before
# buying); empty follows TWILIO_API_BASE_URL when that points at a mock.
# https://www.twilio.com/docs/phone-numbers/pricing
TWILIO_PRICING_API_BASE_URL = env("TWILIO_PRICING_API_BASE_URL", default="")
# Origin of the Trust Hub API (trusthub.twilio.com), the same way (A2P 10DLC registration).
TWILIO_TRUSTHUB_API_BASE_URL = env("TWILIO_TRUSTHUB_API_BASE_URL", default="")
# Origin of the Numbers API (numbers.twilio.com: porting in, hosted SMS), the same way.
TWILIO_NUMBERS_API_BASE_URL = env("TWILIO_NUMBERS_API_BASE_URL", default="")
# Origin of the Numbers Documents API (numbers-upload.twilio.com: a port-in's utility bill), the same way.
# https://www.twilio.com/docs/phone-numbers/document-apis
TWILIO_NUMBERS_UPLOAD_API_BASE_URL = env("TWILIO_NUMBERS_UPLOAD_API_BASE_URL", default="")
# Hosted SMS (text-enable a clinic's existing line, telephony/numbers/hosted.py). Off by default:
# Twilio says its Hosted Phone Numbers API is "not intended for use by new customers" until
# it is generally available (https://www.twilio.com/docs/phone-numbers/hosted-numbers).
# Turn it on only for an account Twilio has enabled for hosted numbers.
TWILIO_HOSTED_SMS_ENABLED = env.bool("TWILIO_HOSTED_SMS_ENABLED", default=False)
# A2P 10DLC: our own (ISV) Primary Customer Profile, approved in Twilio's Trust Hub (BU...).
# Every clinic's secondary profile is assigned to it; empty disables registration.
# https://www.twilio.com/docs/messaging/compliance/a2p-10dlc/onboarding-isv-api
TWILIO_PRIMARY_CUSTOMER_PROFILE_SID = env("TWILIO_PRIMARY_CUSTOMER_PROFILE_SID", default="")
# Where Twilio mails the review outcome of each clinic's Trust Hub bundles.
A2P_NOTIFICATION_EMAIL = env("A2P_NOTIFICATION_EMAIL", default="compliance@dentsignal.example.com")
# Seconds the SDK waits for Twilio's answer before giving up on a request.
TWILIO_HTTP_TIMEOUT = env.float("TWILIO_HTTP_TIMEOUT", default=15.0)

# Each clinic's numbers live in its own Twilio subaccount (Twilio's ISV guidance:
# credentials, usage, rate limits and compliance per customer), created by provisioning.
# false keeps every number on the main account, for number types whose regulatory
# bundles subaccounts cannot use (Twilio error 21649).
# https://www.twilio.com/docs/iam/api/subaccounts
TWILIO_SUBACCOUNT_PER_CLINIC = env.bool("TWILIO_SUBACCOUNT_PER_CLINIC", default=True)
# Fernet keys (urlsafe base64 of 32 bytes) for what is sealed at rest: the subaccounts'
# auth tokens, the clinics' EINs (A2P registration), patients' texts and our replies, and
# texts spooled while the database is down. FIELD_ENCRYPTION_KEYS is a comma-separated
# list: the first seals, every one opens (rotation: put the new key first, run
# `manage.py reseal`, then drop the old one). FIELD_ENCRYPTION_KEY is the one-key form
# (existing deployments); when both are set, that key must be one of the list.
# With DEBUG off no key refuses to start (the sandbox too: staff may type real EINs into a
# staging demo); only DEBUG falls back to a key published here.
# Make one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
FIELD_ENCRYPTION_KEYS = [key.strip() for key in env.list("FIELD_ENCRYPTION_KEYS", default=[]) if key.strip()]
_one_key = env("FIELD_ENCRYPTION_KEY", default="").strip()
if _one_key and FIELD_ENCRYPTION_KEYS and _one_key not in FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEY and FIELD_ENCRYPTION_KEYS are both set, and the list does not hold that key: what it "
        "sealed would no longer open. Put it in FIELD_ENCRYPTION_KEYS (after the new key) and unset FIELD_ENCRYPTION_KEY."
    )
if not FIELD_ENCRYPTION_KEYS and _one_key:
    FIELD_ENCRYPTION_KEYS = [_one_key]
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY is not set. It seals the EINs, the subaccounts' auth tokens and the patients' texts "
            "stored in the database, so it is required whenever DJANGO_DEBUG is off. Make one with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"` '
            "and set it in the environment or .env (see .env.example; FIELD_ENCRYPTION_KEYS takes several, "
            "the first sealing); keep it, nothing sealed with it opens without it."
        )
    # Published here, so it protects nothing: DJANGO_DEBUG=true only.
    FIELD_ENCRYPTION_KEYS = ["ZGVudHNpZ25hbC1kZXYtb25seS1maWVsZC1rZXktMzI="]

# Patients' texts (bodies and our replies) and callers' numbers are kept this many days,
# here and at Twilio, then redacted by beat's retention run (telephony/retention/): long
# enough for staff to follow up a conversation and for billing or delivery disputes, short
# enough that a breach exposes little (HIPAA's "minimum necessary"; Twilio's "Architecting
# for HIPAA" asks for retention with deletion of message bodies). A clinic that left has
# its patients' data purged this many days after it left. docs/settings.md says more.
MESSAGE_RETENTION_DAYS_MAX = 3650
_retention_days = env.str("MESSAGE_RETENTION_DAYS", default="90").strip()
if not _retention_days.isascii() or not _retention_days.isdigit() or not 1 <= int(_retention_days) <= MESSAGE_RETENTION_DAYS_MAX:
    raise ImproperlyConfigured(
        "MESSAGE_RETENTION_DAYS (how many days patients' texts and callers' numbers are kept before they are "
        f"redacted) must be a whole number of days from 1 to {MESSAGE_RETENTION_DAYS_MAX} (ten years), "
        f"not {_retention_days!r}."
    )
MESSAGE_RETENTION_DAYS = int(_retention_days)
# How many texts and how many calls one retention run redacts here, and asks Twilio to
# redact: a backlog (the first run, or after an outage) drains over several runs instead
# of one long burst of Twilio requests.
RETENTION_BATCH_SIZE = 200

# Buying numbers costs money: each user may ask the provisioning API this many
# times per window ("requests/seconds"); more get 429 with Retry-After.
API_PROVISION_RATE_LIMIT = env("API_PROVISION_RATE_LIMIT", default="10/60")
# Webhooks refuse requests without a valid X-Twilio-Signature. Switching the check
# off is only allowed with DEBUG on (a warning is logged at start-up).
# Seconds a process keeps a subaccount's auth token in memory for the webhook signature
# check: a closed or deleted clinic's token stops working in every process within this.
SIGNING_TOKEN_CACHE_SECONDS = env.int("SIGNING_TOKEN_CACHE_SECONDS", default=60)
TWILIO_WEBHOOK_SIGNATURE_CHECK = env.bool("TWILIO_WEBHOOK_SIGNATURE_CHECK", default=True)
if not TWILIO_WEBHOOK_SIGNATURE_CHECK and not DEBUG:
    raise ImproperlyConfigured("TWILIO_WEBHOOK_SIGNATURE_CHECK=false is only allowed with DJANGO_DEBUG=true.")
# Voice hand-off: "stream" (<Connect><Stream>) or "conversation_relay" (<Connect><ConversationRelay>).
AI_AGENT_MODE = env("AI_AGENT_MODE", default="stream")
if AI_AGENT_MODE not in AGENT_NOUNS:
    raise ImproperlyConfigured(f"AI_AGENT_MODE must be {' or '.join(AGENT_NOUNS)}, not {AI_AGENT_MODE!r}.")

# The public origin Twilio calls back (webhook URLs and signature checks).
API_BASE_URL = env("API_BASE_URL", default="http://localhost:8000").rstrip("/")
# The origin of the fallback webhooks (Twilio's VoiceFallbackUrl/SmsFallbackUrl), e.g. a
# second host that keeps answering when the main one is down; empty: API_BASE_URL.
API_FALLBACK_BASE_URL = env("API_FALLBACK_BASE_URL", default="").rstrip("/")
# Where the fallbacks keep what they need without our database (telephony/fallback_store.py):
# Redis (shared by every web process and the worker; survives the database being down)
# when a redis:// URL is given, by default the Celery broker's; otherwise files in
# FALLBACK_SPOOL_DIR (the embedded default: one host, so one directory serves all).
FALLBACK_REDIS_URL = env("FALLBACK_REDIS_URL", default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "")
FALLBACK_SPOOL_DIR = env("FALLBACK_SPOOL_DIR", default=str(VAR_DIR / "fallback"))
# wss:// endpoint of the AI voice agent; empty means the fallback call flow.
AI_AGENT_STREAM_URL = env("AI_AGENT_STREAM_URL", default="")

# ---------------------------------------------------------------------------
# Logging: to stderr; secrets (tokens, auth headers) and patient data are never logged.
# Every handler masks phone numbers to their last four digits (dentsignal.log_masking);
# no logger call passes a message body (docs/patient-data.md, "Logs").
# https://docs.djangoproject.com/en/5.2/topics/logging/#configuring-logging
# ---------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_phone_numbers": {"()": "dentsignal.log_masking.MaskPhoneNumbers"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_phone_numbers"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # The SDK logs each request's URL, query parameters and headers at INFO.
        "twilio": {"level": "WARNING"},
        # Django's own handlers (DEFAULT_LOGGING: a console without this filter, and
        # mail_admins, whose e-mail carries the request's POST data, patients' texts
        # included) are replaced by ours: errors and runserver's lines reach the console above.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
    },
}
