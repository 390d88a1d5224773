"""Signing in with the company's identity provider (OpenID Connect, through django-allauth).

`provider` (the authorization request and the ID token's checks), `adapters` (who may
sign in, and what their groups give them), `groups` (memberships brought in line with the
groups claim), `views` (the login page with the provider's button, logout at the provider
too). Without OIDC_ISSUER none of it is used: local logins stay as they are.
"""
