"""The Celery application: `celery -A trackingconsole worker` / `celery -A trackingconsole beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackingconsole.settings")

app = Celery("trackingconsole")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
