import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackingconsole.settings")

application = get_wsgi_application()

# What is loaded now (Django, the apps, every view module through the URLconf) lives as long as the process: frozen,
# it is out of the garbage collector's reach, and a full collection walks only what requests create. Unfrozen, a full
# collection walked ~120,000 objects, stalling every thread of the process for 75-90 ms every few thousand requests
# (in process, 5,000 single activities: 2 pauses of 75-91 ms, against 8-12 ms frozen): the routes' p99.
get_resolver().url_patterns  # noqa: B018  (imports the views now rather than on the first request)
gc.collect()
gc.freeze()
