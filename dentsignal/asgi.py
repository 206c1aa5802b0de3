"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dentsignal.settings")
application = get_asgi_application()

# After setup (settings and logging are ready): what `check --deploy` would warn about.
from telephony.checks import start_checks_log  # noqa: E402

start_checks_log(process="The web process (dentsignal.asgi)")
