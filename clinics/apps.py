from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    name = "clinics"
    verbose_name = "Clinics"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the receivers (Django docs: "Connecting receiver functions")
