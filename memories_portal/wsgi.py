import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from memories_portal.slow_clients import BodyDeadline

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "memories_portal.settings")

application = BodyDeadline(get_wsgi_application(), settings.REQUEST_BODY_TIMEOUT)
