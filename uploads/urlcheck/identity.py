"""When two submitted URLs name the same video, for the portal's duplicate warnings.

Two URLs are the same when they differ only in what never reaches the server
differently: the case of the scheme and the host, a port that is the scheme's
default, an empty path (which is "/"), and the fragment (never sent). The path
and the query are kept exactly as written: signed links differ only there, and
`?v=1` and `?v=2` may well be two videos. Pure functions, no DNS and no Django.
"""

import hashlib
from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalised_url(url: str) -> str:
    """The URL in the form duplicates are compared in (see the module's docstring)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url  # not a URL the portal accepts: compared as written
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (userinfo + "@" if userinfo else "") + host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = parts.path or ("/" if netloc else "")
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def url_key(url: str) -> str:
    """A fixed-length key of the normalised URL (SHA-256, hex), to index whatever the length."""
    return hashlib.sha256(normalised_url(url).encode("utf-8", "surrogatepass")).hexdigest()
