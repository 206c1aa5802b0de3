"""Settings of the benchmarks: production settings plus the benchmark's reference views.

bench/urls.py mounts two unauthenticated views (the baseline and one-write) next to the
project's URLs; they exist only under these settings (DJANGO_SETTINGS_MODULE=bench.settings),
never under dentsignal.settings.
"""

from dentsignal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
