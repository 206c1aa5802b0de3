"""WSGI entry point (gunicorn dentsignal.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dentsignal.settings")
application = get_wsgi_application()

# After setup (settings and logging are ready): what `check --deploy` would warn about.
from telephony.checks import start_checks_log  # noqa: E402

start_checks_log(process="The web process (dentsignal.wsgi)")
