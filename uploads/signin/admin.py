"""allauth's admin, trimmed: the provider is configured from the environment (not from
"Social applications"), and no provider token is stored. Social accounts stay: there a
superuser sees each person's `sub`."""

from allauth.socialaccount.models import SocialApp, SocialToken
from django.contrib import admin

for model in (SocialApp, SocialToken):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
