"""The admin is for superusers only.

It shows every team's submissions and controls sending for the whole account,
so the usual "staff" flag with per-model permissions is not enough: a staff
user without superuser rights is refused, at login and on every page.
"""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError


class SuperuserAuthenticationForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not user.is_superuser:
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class PortalAdminSite(admin.AdminSite):
    site_header = "Memories Portal administration"
    site_title = "Memories Portal admin"
    login_form = SuperuserAuthenticationForm

    def has_permission(self, request):
        user = request.user
        return user.is_active and user.is_staff and user.is_superuser
