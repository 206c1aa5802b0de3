"""The web process sends tasks by name (telephony/queue.py), so every task must be
registered with Celery as soon as Django is set up, not only in a worker."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_task_is_registered_once_django_is_set_up_in_a_fresh_process():
    script = (
        "import django; django.setup()\n"
        "from dentsignal.celery import app\n"
        "print('\\n'.join(sorted(name for name in app.tasks if name.startswith('telephony.'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"DJANGO_SETTINGS_MODULE": "dentsignal.test_settings", "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    registered = result.stdout.split()
    assert "telephony.tasks.provision_number" in registered
    assert "telephony.tasks.a2p_registration_poll" in registered
