"""The verifier against AWS's published SigV4 test-suite vectors (no network).

Vectors: service "service", region us-east-1, key AKIDEXAMPLE, date 20150830T123600Z
(https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from airflow_restjob.sandbox.sigv4 import (
    AuthError,
    Credentials,
    Identity,
    SigV4Verifier,
    canonical_request,
    signature,
    signing_key,
    string_to_sign,
)

KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
DATE = "20150830T123600Z"
SCOPE = "20150830/us-east-1/service/aws4_request"
NOW = dt.datetime(2015, 8, 30, 12, 36, tzinfo=dt.timezone.utc)
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
BASE_HEADERS = [("Host", "example.amazonaws.com"), ("X-Amz-Date", DATE)]
SIGNED = ["host", "x-amz-date"]


def _verifier() -> SigV4Verifier:
    return SigV4Verifier(
        {KEY: Identity(Credentials(KEY, SECRET), "arn:aws:iam::123456789012:user/x")}, "us-east-1", "service"
    )


def _auth(signed: list[str], sig: str) -> str:
    return f"AWS4-HMAC-SHA256 Credential={KEY}/{SCOPE}, SignedHeaders={';'.join(signed)}, Signature={sig}"


def test_signing_key_matches_published_value():
    assert (
        signing_key(SECRET, "20150830", "us-east-1", "service").hex()
        == "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75"
    )


def test_get_vanilla_canonical_request_string_to_sign_and_signature():
    creq = canonical_request("GET", "/", "", BASE_HEADERS, SIGNED, EMPTY)
    assert creq == (
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + EMPTY
    )
    sts = string_to_sign(DATE, SCOPE, creq)
    assert sts == (
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    )
    assert (
        signature(SECRET, "20150830", "us-east-1", "service", sts)
        == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_post_vanilla_canonical_request_string_to_sign_and_signature():
    creq = canonical_request("POST", "/", "", BASE_HEADERS, SIGNED, EMPTY)
    assert creq == (
        "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + EMPTY
    )
    sts = string_to_sign(DATE, SCOPE, creq)
    assert sts == (
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"
    )
    assert (
        signature(SECRET, "20150830", "us-east-1", "service", sts)
        == "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
    )


def test_post_x_www_form_urlencoded_canonical_request_and_signature():
    body = b"Param1=value1"
    body_hash = hashlib.sha256(body).hexdigest()
    assert body_hash == "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
    headers = [("Content-Type", "application/x-www-form-urlencoded"), *BASE_HEADERS]
    signed = ["content-type", "host", "x-amz-date"]
    creq = canonical_request("POST", "/", "", headers, signed, body_hash)
    assert creq == (
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
        "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n" + body_hash
    )
    sts = string_to_sign(DATE, SCOPE, creq)
    assert (
        signature(SECRET, "20150830", "us-east-1", "service", sts)
        == "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
    )
    # and the full verifier accepts it
    _verifier().verify(
        "POST",
        "/",
        "",
        [
            *headers,
            (
                "Authorization",
                _auth(signed, "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
            ),
        ],
        body,
        now=NOW,
    )


# (vector, method, path, raw query, extra headers, signed headers, published signature)
VECTORS = [
    (
        "get-vanilla",
        "GET",
        "/",
        "",
        [],
        SIGNED,
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    ),
    (
        "get-vanilla-query",
        "GET",
        "/",
        "",
        [],
        SIGNED,
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    ),
    (
        "get-vanilla-query-order-key-case",
        "GET",
        "/",
        "Param2=value2&Param1=value1",
        [],
        SIGNED,
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    ),
    (
        "get-vanilla-query-unreserved",
        "GET",
        "/",
        "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
        "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        [],
        SIGNED,
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    ),
    (
        "get-vanilla-empty-query-key",
        "GET",
        "/",
        "Param1=value1",
        [],
        SIGNED,
        "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
    ),
    (
        "get-vanilla-utf8-query",
        "GET",
        "/",
        "%E1%88%B4=bar",
        [],
        SIGNED,
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    ),
    (
        "post-vanilla",
        "POST",
        "/",
        "",
        [],
        SIGNED,
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    ),
    (
        "post-vanilla-query",
        "POST",
        "/",
        "Param1=value1",
        [],
        SIGNED,
        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    ),
    (
        "post-header-key-sort",
        "POST",
        "/",
        "",
        [("My-Header1", "value1")],
        ["host", "my-header1", "x-amz-date"],
        "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    ),
    (
        "post-header-value-case",
        "POST",
        "/",
        "",
        [("My-Header1", "VALUE1")],
        ["host", "my-header1", "x-amz-date"],
        "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    ),
    (
        "get-header-value-trim",
        "GET",
        "/",
        "",
        [("My-Header1", " value1"), ("My-Header2", ' "a   b   c"')],
        ["host", "my-header1", "my-header2", "x-amz-date"],
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    ),
    (
        "get-unreserved",
        "GET",
        "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "",
        [],
        SIGNED,
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    ),
    (
        "get-utf8",
        "GET",
        "/\u1234",
        "",
        [],
        SIGNED,
        "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    ),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "query", "extra", "signed", "sig"), VECTORS, ids=[v[0] for v in VECTORS]
)
def test_verifier_accepts_published_vector(name, method, path, query, extra, signed, sig):
    headers = [*BASE_HEADERS, *extra, ("Authorization", _auth(signed, sig))]
    result = _verifier().verify(method, path, query, headers, b"", now=NOW)
    assert result.identity.access_key == KEY
    assert result.authorization.signature == sig


@pytest.mark.parametrize(
    ("name", "method", "path", "query", "extra", "signed", "sig"),
    VECTORS[:4],
    ids=[v[0] for v in VECTORS[:4]],
)
def test_verifier_rejects_a_tampered_vector(name, method, path, query, extra, signed, sig):
    headers = [*BASE_HEADERS, *extra, ("Authorization", _auth(signed, sig))]
    with pytest.raises(AuthError) as err:
        _verifier().verify(method, path + "x", query, headers, b"", now=NOW)
    assert err.value.error_type == "InvalidSignatureException"
    with pytest.raises(AuthError):
        _verifier().verify(method, path, query, headers, b"body", now=NOW)


def test_verifier_checks_the_clock_skew():
    headers = [*BASE_HEADERS, ("Authorization", _auth(SIGNED, VECTORS[0][6]))]
    _verifier().verify("GET", "/", "", headers, b"", now=NOW + dt.timedelta(minutes=4, seconds=59))
    with pytest.raises(AuthError) as late:
        _verifier().verify("GET", "/", "", headers, b"", now=NOW + dt.timedelta(minutes=5, seconds=1))
    assert late.value.message == (
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T124101Z - 5 min.)"
    )
    with pytest.raises(AuthError) as early:
        _verifier().verify("GET", "/", "", headers, b"", now=NOW - dt.timedelta(minutes=6))
    assert early.value.message == (
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z (20150830T123000Z + 5 min.)"
    )


def test_verifier_checks_scope_region_and_service():
    headers = [*BASE_HEADERS, ("Authorization", _auth(SIGNED, VECTORS[0][6]))]
    with pytest.raises(AuthError, match="valid region"):
        SigV4Verifier(_verifier().identities, "eu-west-1", "service").verify(
            "GET", "/", "", headers, b"", now=NOW
        )
    with pytest.raises(AuthError, match="correct service: 'execute-api'"):
        SigV4Verifier(_verifier().identities, "us-east-1").verify("GET", "/", "", headers, b"", now=NOW)


def test_verifier_requires_every_signed_header_to_be_present():
    headers = [*BASE_HEADERS, ("Authorization", _auth(["host", "my-header1", "x-amz-date"], "0" * 64))]
    with pytest.raises(AuthError) as err:
        _verifier().verify("GET", "/", "", headers, b"", now=NOW)
    assert err.value.error_type == "IncompleteSignatureException"
