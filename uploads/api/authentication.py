"""Who is calling: a personal access token (`Authorization: Bearer <token>`), and what
its scopes allow. Never a session cookie, so there is no CSRF to forge."""

import copy

from rest_framework import authentication, exceptions, permissions

from ..models import ApiToken
from ..selectors import require_writer

# A longer Authorization value is no token of ours: refused before it is hashed.
MAX_TOKEN_LENGTH = 200
UNUSABLE = (
    "The token is unknown, revoked or expired, or its user is deactivated. "
    "Make a new one on the Tokens page."
)


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret or len(secret) > MAX_TOKEN_LENGTH:
            raise exceptions.AuthenticationFailed(
                "Give the token as “Authorization: Bearer <token>”."
            )
        token = ApiToken.find(secret)
        if token is None:
            raise exceptions.AuthenticationFailed(UNUSABLE)
        token.mark_used()
        return as_member(token.user), token

    def authenticate_header(self, request):
        # Makes REST framework answer 401 (not 403) to a request without a usable token.
        return 'Bearer realm="api"'


def as_member(user):
    """The user as a token carries them: within their own teams, without admin powers
    (a superuser's token sees what their memberships show, like anyone's)."""
    member = copy.copy(user)
    member.is_superuser = member.is_staff = False
    member.save = _never_saved
    return member


def _never_saved(*args, **kwargs):
    raise RuntimeError("A token's user is a view of the user, without admin powers: not saved.")


class HasScope(permissions.BasePermission):
    """`read` for reading, `submit` for everything else; a view may name its own
    (`required_scope`)."""

    def has_permission(self, request, view):
        token = request.auth
        if not isinstance(token, ApiToken):
            return False  # answered 401 (TokenAuthentication.authenticate_header)
        needed = getattr(view, "required_scope", None) or (
            ApiToken.Scope.READ
            if request.method in permissions.SAFE_METHODS
            else ApiToken.Scope.SUBMIT
        )
        if needed not in token.scopes:
            self.message = f"This token lacks the “{needed}” scope."
            return False
        if needed == ApiToken.Scope.SUBMIT:
            # A token made before its user became a viewer keeps its scopes, not its powers.
            require_writer(request.user)
        return True
