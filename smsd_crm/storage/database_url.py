"""PostgreSQL connection URLs as an operator writes them: checked before use, shown without the password."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

# libpq's parameters that hold a secret or name where one is kept (a URL's query may carry them)
SECRET_PARAMETERS = frozenset({"password", "passfile", "sslpassword", "sslkey"})


def redacted(url: str) -> str:
    """The URL without its password (in the user part or a ``password=`` parameter), for logs,
    errors and pages; an URL that does not parse is shown by its scheme only."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return url.split("://", 1)[0] + "://(not a valid URL)"
    netloc = parts.netloc
    if parts.password is not None:
        user = f"{parts.username}:***@" if parts.username else ""
        netloc = f"{user}{parts.hostname or ''}{port}"
    query = "&".join(f"{k}=***" if k.lower() in SECRET_PARAMETERS else (f"{k}={v}" if v else k)
                     for k, v in parse_qsl(parts.query, keep_blank_values=True))
    # Put together by hand: urlunsplit drops the empty host of ``postgresql:///name?host=/run/...``.
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot name a PostgreSQL server (a sentence), or None when it can."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        # not the parser's words: they quote the text it choked on, which may be the password
        return ("database.url does not parse: write it as postgresql://user:password@host:port/name, a password's "
                "own '#', '/', '?', '@' or ':' as %23, %2F, %3F, %40, %3A (or keep it out of the URL: PGPASSWORD)")
    if parts.scheme.lower() not in ("postgresql", "postgres"):
        return "database.url is a PostgreSQL URL (postgresql://...); for SQLite give database.path"
    if not parts.path.strip("/") and "dbname" not in parts.query:
        return "database.url names no database (postgresql://user@host/NAME)"
    return None
