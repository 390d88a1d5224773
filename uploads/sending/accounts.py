"""A memories.ai account as the sender and the poller use it: its address and key checked,
its client, why it does not send, and the times a request and a claim may take.
"""

from urllib.parse import urlsplit

from django.conf import settings

from ..memories import client as api
from ..models import MemoriesAccount, UploadGate


class SendingNotConfigured(Exception):
    pass


def api_key(account):
    """The account's key to send with, or SendingNotConfigured with what is missing."""
    if key := account.key():
        return key
    raise SendingNotConfigured(
        f"Sending is off: the account “{account}” has no key, and no MEMORIES_API_KEY is set "
        "(and the sandbox is not chosen). Its submissions wait until an administrator sets "
        "the key and resumes sending."
    )


def checked_configuration(account):
    """The account's address and key, or SendingNotConfigured saying what is wrong.

    A misconfigured address or key fails every request alike, before anything
    is sent: the account's sending pauses with the reason, nothing goes to
    needs_review.
    """
    key, base_url = api_key(account), account.base_url()
    try:
        parts = urlsplit(base_url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        usable = False
    if not usable:
        raise SendingNotConfigured(
            f"Sending is paused: MEMORIES_API_BASE_URL ({base_url!r}) is not an http(s) "
            "address with a host name. Fix it, restart, and resume sending."
        )
    if not key.isascii() or not key.isprintable() or key != key.strip():
        # Never the key itself: it is shown on pages and in logs.
        raise SendingNotConfigured(
            f"Sending is paused: the key of the account “{account}” (or MEMORIES_API_KEY) "
            "holds spaces, line breaks or other characters that cannot be sent in a header. "
            "Fix it, and resume sending."
        )
    if key.startswith(FERNET_TOKEN_START):
        # The field library hands back what it cannot decrypt as it is.
        raise SendingNotConfigured(
            f"Sending is paused: the key of the account “{account}” cannot be decrypted "
            "(FIELD_ENCRYPTION_KEY or SECRET_KEY changed?). Restore the old one beside the new "
            "(docs/configuration.md), or enter the key again, and resume sending."
        )
    return base_url, key


# Every Fernet token begins so (version byte 0x80, then the timestamp's high bytes).
FERNET_TOKEN_START = "gAAAAA"  # noqa: S105 (a prefix, not a secret)


def get_client(account):
    """The account's memories.ai client, or SendingNotConfigured with what is wrong."""
    base_url, key = checked_configuration(account)
    return api.MemoriesClient(
        base_url,
        key,
        connect_timeout=settings.MEMORIES_CONNECT_TIMEOUT,
        read_timeout=settings.MEMORIES_READ_TIMEOUT,
        deadline=request_deadline(),
        account=account.name,
    )


def sending_problem(account):
    """Why nothing is being sent through this account right now, or "" when it works."""
    try:
        checked_configuration(account)
    except SendingNotConfigured as exc:
        return str(exc)
    gate = UploadGate.get(account)
    if gate.paused:
        return f"Sending is paused: {gate.paused_reason}"
    return ""


def sending_problems(team_ids):
    """Why nothing is being sent through the accounts of these teams, one line per
    account that does not send."""
    accounts = MemoriesAccount.objects.filter(teams__in=team_ids).distinct().order_by("name")
    return [problem for account in accounts if (problem := sending_problem(account))]


def request_deadline():
    """The longest a request to memories.ai may take, all of it: shorter than the lease."""
    configured = settings.MEMORIES_CONNECT_TIMEOUT + settings.MEMORIES_READ_TIMEOUT
    return min(configured, 0.8 * lease_seconds())


def lease_seconds():
    """How long a claim holds. Renewed as the request leaves, and longer than its deadline,
    so a live worker keeps its lease; a stalled one loses it and sends nothing."""
    if settings.SEND_LEASE_SECONDS:
        return settings.SEND_LEASE_SECONDS
    return settings.MEMORIES_CONNECT_TIMEOUT + settings.MEMORIES_READ_TIMEOUT + 30
