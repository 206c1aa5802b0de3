"""gunicorn's settings for `gunicorn dentsignal.wsgi`, read from the project root.

workers: gunicorn's own default is one. A sync worker answers one request at a time and
sits idle while PostgreSQL runs the webhook's statement, so more workers than cores keep
the cores busy; gunicorn's documentation suggests 2-4 per core. Measured with
bench/run-webhooks on 2 cores at 16 connections (2026-11-28, runs vary by about 15%):
4 workers answered the webhooks 0-30% faster than 2, and 8 no faster than 2. Default:
twice the CPUs this process may use; WEB_CONCURRENCY (gunicorn's own variable) or
--workers override it.
"""

import os


def default_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 2 * cpus


workers = int(os.environ.get("WEB_CONCURRENCY") or default_workers())

# timeout: a sync worker silent for longer than this is killed and replaced (gunicorn's
# default is 30 s). Twilio waits at most 15 s for a webhook's answer (read timeout and
# total time both default to 15,000 ms: twilio.com/docs/usage/webhooks/webhooks-connection-overrides),
# so a worker still busy after that serves nobody, while the same workers are needed for
# the next calls and messages. 20 s leaves an answer sent at 15 s room to be written out;
# every other request (admin pages, the provisioning API, whose broker wait is bounded to a
# few seconds) finishes well within it. With eager Celery (no CELERY_BROKER_URL) a
# provisioning click calls Twilio inside the request: use a broker in production.
timeout = 20
