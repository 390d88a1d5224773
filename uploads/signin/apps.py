from django.apps import AppConfig


class SigninConfig(AppConfig):
    # An app of its own so that django-allauth finds the provider (signin/provider.py).
    name = "uploads.signin"
    label = "signin"
