"""WSGI entry point (gunicorn dentsignal.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dentsignal.settings")
application = get_wsgi_application()
