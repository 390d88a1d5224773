from django.contrib import admin
from django.urls import include, path

from uploads.signin import views as signin

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", signin.LoginView.as_view(), name="login"),
    path("accounts/logout/", signin.logout, name="logout"),
    # The company's sign-in (only the provider's two views of allauth's pages).
    path("accounts/oidc/<str:provider_id>/login/", signin.oidc_login, name="openid_connect_login"),
    path(
        "accounts/oidc/<str:provider_id>/login/callback/",
        signin.oidc_callback,
        name="openid_connect_callback",
    ),
    path("api/v1/", include("uploads.api.urls")),
    path("", include("uploads.urls")),
]
