"""What of a location may be shown: passwords and other secrets never reach a person.

Connection URLs (SQLAlchemy, libpq, fsspec) may carry secrets in two places:
the *userinfo* (``scheme://user:password@host``) and the *query string*
(``?password=...``, ``?sslpassword=...``, tokens, cloud keys). Both are
handled by an **allow-list**: a query value is shown only when its key is one
known to hold no secret (:data:`SHOWN_QUERY_KEYS`: ``table``, ``sslmode``,
...); every other value, and every password, is replaced by ``***``.

The userinfo ends at the *last* ``@`` that is followed by a host, whatever
the password holds (``@``, ``:``, ``/``, ``?``): a malformed URL loses more
of its display, never a secret. A user name without a password
(``postgresql://reader@host``) is shown, as libpq shows it.

Redacting the URL is not enough when a library quotes the URL, or a piece of
it, in its own error text. So every secret of every location mesalens was
given is also remembered (:func:`remember_secrets`, called for each regime)
and cut out of any text shown to a person (:func:`scrub_secrets`: error
lines, log lines).

>>> redact_url("postgresql+psycopg://reader:Pw@9?TopSecret@127.0.0.1:1/logs?table=deploy")
'postgresql+psycopg://reader:***@127.0.0.1:1/logs?table=deploy'
>>> redact_url("postgresql://h/db?table=t&sslpassword=k3y&sslmode=require")
'postgresql://h/db?table=t&sslpassword=***&sslmode=require'
>>> secrets_in("postgresql://u:hunter2@h/db?token=abc123&table=t")
['hunter2', 'abc123']
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from urllib.parse import unquote

__all__ = [
    "REDACTED",
    "SHOWN_QUERY_KEYS",
    "redact_url",
    "remember_secrets",
    "scrub_secrets",
    "secrets_in",
]

REDACTED = "***"

#: Query-string keys whose values hold no secret and may be shown (lower case).
#: Any other key's value is hidden: a new driver's secret key is safe by default.
SHOWN_QUERY_KEYS = frozenset(
    {
        "table",
        "query",
        "schema",
        "user",
        "username",
        "dbname",
        "database",
        "host",
        "hostaddr",
        "port",
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslcrl",
        "gssencmode",
        "channel_binding",
        "connect_timeout",
        "application_name",
        "target_session_attrs",
        "client_encoding",
        "options",
        "charset",
        "driver",
        "region",
        "versionid",
        "version_id",
    }
)

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)(.*)$", re.DOTALL)
# A host (name, IPv4 or bracketed IPv6) with an optional port, then the end of
# the authority: a path, a query, a fragment or the end of the text.
_HOST = re.compile(r"(?:[A-Za-z0-9._~%\-]+|\[[0-9A-Fa-f:.]+\])(?::\d*)?(?=[/?#]|$)")
# A user name shown as it is; anything else in the userinfo is hidden whole.
_PLAIN_USER = re.compile(r"[A-Za-z0-9._~\-]+")

# A secret shorter than this is not scrubbed from free text: it would cut
# ordinary letters out of every message (the URL itself is still redacted).
_MIN_SCRUBBED = 3

_remembered: set[str] = set()
_lock = threading.Lock()


def _userinfo_splits(rest: str) -> Iterator[tuple[str, str]]:
    """Every reading of ``rest`` as ``(userinfo, text from the host on)``, last ``@`` first."""
    at = len(rest)
    while (at := rest.rfind("@", 0, at)) >= 0:
        userinfo, after = rest[:at], rest[at + 1 :]
        # A "/" in the user name means this "@" sits in a path (memory://logs/a@b.csv).
        if _HOST.match(after) and "/" not in userinfo.partition(":")[0]:
            yield userinfo, after


def _split_userinfo(rest: str) -> tuple[str, str] | None:
    """The reading that hides the most: the userinfo up to the last ``@`` before a host."""
    return next(_userinfo_splits(rest), None)


def _query_items(query: str) -> list[tuple[str, str, str]]:
    """The ``(key, "=", value)`` items of a query string (``"="`` empty for a bare item)."""
    return [item.partition("=") for item in query.split("&")]


def redact_url(url: str) -> str:
    """Return ``url`` with its secrets replaced by ``***`` (see the module docstring).

    Parameters
    ----------
    url : str
        A path, an fsspec URL or an SQLAlchemy connection URL.

    Returns
    -------
    str
        The same text, safe to show in messages, logs and summaries; a local
        path comes back unchanged.

    Examples
    --------
    >>> redact_url("postgresql+psycopg://mesalens:s3cret@127.0.0.1:54329/db?table=t")
    'postgresql+psycopg://mesalens:***@127.0.0.1:54329/db?table=t'
    >>> redact_url("data/train.csv")
    'data/train.csv'
    """
    match = _SCHEME.match(url)
    if match is None:
        return url
    scheme, rest = match.groups()
    split = _split_userinfo(rest)
    if split is not None:
        userinfo, after = split
        user, colon, _password = userinfo.partition(":")
        shown_user = user if _PLAIN_USER.fullmatch(user) else REDACTED
        rest = f"{shown_user}:{REDACTED}@{after}" if colon else f"{shown_user}@{after}"
    base, question, query = rest.partition("?")
    if not question:
        return scheme + rest
    shown = [
        f"{key}={value}"
        if equals and key.strip().lower() in SHOWN_QUERY_KEYS
        else (f"{key}={REDACTED}" if equals else (REDACTED if key else key))
        for key, equals, value in _query_items(query)
    ]
    return f"{scheme}{base}?{'&'.join(shown)}"


def secrets_in(url: str) -> list[str]:
    """The secrets a location holds: its password and the query values not shown.

    Where a malformed URL can be read two ways (an ``@`` or ``?`` in a
    password or a query value), the secrets of both readings are returned:
    remembering too much costs nothing, missing one leaks it.
    """
    match = _SCHEME.match(url)
    if match is None:
        return []
    rest = match.group(2)
    found: list[str] = []
    queries = [rest.partition("?")[2]]
    for userinfo, after in _userinfo_splits(rest):
        user, colon, password = userinfo.partition(":")
        found += [password] if colon and password else []
        found += [user] if user and not _PLAIN_USER.fullmatch(user) else []
        queries.append(after.partition("?")[2])
    for query in queries:
        for key, equals, value in _query_items(query) if query else ():
            secret = value if equals else key
            if secret and not (equals and key.strip().lower() in SHOWN_QUERY_KEYS):
                found.append(secret)
    return list(dict.fromkeys(found))


def remember_secrets(location: str) -> None:
    """Remember the secrets of ``location``, to cut them out of any text shown later."""
    with _lock:
        for secret in secrets_in(location):
            # A library may quote the secret as written or percent-decoded.
            _remembered.update(s for s in (secret, unquote(secret)) if len(s) >= _MIN_SCRUBBED)


def scrub_secrets(text: str) -> str:
    """``text`` with every remembered secret replaced by ``***``."""
    with _lock:
        secrets = sorted(_remembered, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text
