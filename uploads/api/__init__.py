"""The portal's JSON API for scripts and pipelines (/api/v1/), on Django REST framework.

It reads the request, checks the token and its scope, and calls the same forms and
services as the pages (uploads/forms.py, uploads/services.py, uploads/batches/).
"""
