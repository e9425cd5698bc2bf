from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Prompt runs"

    def ready(self) -> None:
        from sandbox.celery import ensure_broker_folders

        ensure_broker_folders()
