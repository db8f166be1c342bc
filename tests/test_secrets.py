"""No secret of a location reaches a person: redaction, error lines, job outputs.

A secret is planted in every position of generated URLs (the password, any
query value whose key is not on the allow-list, a bare query item), with the
characters that broke the old redaction (``@``, ``?``, ``:``, ``/``); it must
appear in no displayed location, no error line and no job output.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesalens.connectors.redaction import SHOWN_QUERY_KEYS, redact_url, secrets_in
from mesalens.connectors.regime import parse_regime_option

MESALENS = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "mesalens")

# Secrets start with "Zq": no host, user, key or path below holds those letters,
# so finding the secret in an output can only mean it leaked.
_TAIL = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNOPRSTUVWXY0123456789-_.~!$*+,;"
password_secrets = st.text(alphabet=_TAIL + "@:/?#%", min_size=6, max_size=20).map(
    lambda s: "Zq" + s
)
query_secrets = st.text(alphabet=_TAIL + "@:/?", min_size=6, max_size=20).map(lambda s: "Zq" + s)
names = st.text(alphabet="abcdefghijklmnop0123456789", min_size=1, max_size=8)
hosts = st.sampled_from(["127.0.0.1", "db.example", "[::1]", "h"])
ports = st.sampled_from(["", ":5432", ":1"])
schemes = st.sampled_from(["postgresql+psycopg://", "postgresql://", "mysql://", "s3://", "gcs://"])
secret_keys = st.sampled_from(
    ["password", "sslpassword", "token", "private_key", "aws_secret_access_key", "x_custom", "key"]
)


@st.composite
def urls_with_a_secret(draw) -> tuple[str, str]:
    """A URL and the secret planted in it."""
    position = draw(st.sampled_from(["password", "query", "bare", "both"]))
    secret = draw(password_secrets if position in ("password", "both") else query_secrets)
    user = draw(names)
    userinfo = f"{user}:{secret}@" if position in ("password", "both") else f"{user}@"
    query = [f"table={draw(names)}"]
    if position == "query":
        query.insert(draw(st.integers(0, 1)), f"{draw(secret_keys)}={secret}")
    elif position == "bare":
        query.append(secret)
    elif position == "both":
        query.append(f"sslpassword={draw(query_secrets)}")
    url = f"{draw(schemes)}{userinfo}{draw(hosts)}{draw(ports)}/{draw(names)}?{'&'.join(query)}"
    return url, secret


@settings(max_examples=400, deadline=None, derandomize=True)
@given(urls_with_a_secret())
def test_a_planted_secret_is_never_displayed(case):
    url, secret = case
    shown = redact_url(url)
    assert secret not in shown, (url, shown)
    assert "***" in shown
    assert secret in secrets_in(url)
    assert secret not in repr(parse_regime_option(f"deploy={url}"))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql+psycopg://reader:Pw@9?TopSecret@127.0.0.1:1/logs?table=deploy",
            "postgresql+psycopg://reader:***@127.0.0.1:1/logs?table=deploy",
        ),
        (
            "postgresql://h/db?table=t&sslpassword=k3y&sslmode=require",
            "postgresql://h/db?table=t&sslpassword=***&sslmode=require",
        ),
        ("s3://bucket/data.parquet?AWSSecret", "s3://bucket/data.parquet?***"),
    ],
)
def test_the_reported_urls_are_redacted(url, expected):
    assert redact_url(url) == expected


def test_the_allow_list_shows_no_secret_key():
    assert not {"password", "sslpassword", "sslkey", "token", "private_key"} & SHOWN_QUERY_KEYS


@pytest.mark.parametrize(
    ("location", "secret"),
    [
        ("postgresql+psycopg://reader:Pw@9?TopSecret@127.0.0.1:1/logs?table=deploy", "TopSecret"),
        (
            "postgresql+psycopg://reader@127.0.0.1:1/logs?table=deploy&sslpassword=Zq9sslPW",
            "Zq9ssl",
        ),
        ("postgresql+psycopg://reader:Zq%40pct@127.0.0.1:1/logs?table=deploy", "Zq@pct"),
    ],
)
def test_no_secret_in_the_error_line_of_a_run(tmp_path, location, secret):
    train = tmp_path / "train.csv"
    train.write_text("a,b,c\n1,2,3\n4,5,6\n")
    out = tmp_path / "out"
    result = subprocess.run(
        [
            *(MESALENS, "run", "--regime", f"train={train}", "--regime", f"deploy={location}"),
            *("--base", "a", "--mesa", "b", "--decision", "c", "--out", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("mesalens: error: ") and result.stderr.count("\n") == 1
    assert secret not in result.stderr and secret not in result.stdout, result.stderr
    assert not out.exists()
