import pytest

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.errors import DefinitionError

BASE = "https://abc123.execute-api.ap-northeast-1.amazonaws.com/stage"


def make(host=BASE, login="AKIDX", password="secretvalue123", **extra):
    return ConnectionSettings.from_fields("my_conn", host=host, login=login, password=password, extra=extra)


def test_region_inferred_from_execute_api_host_and_defaults():
    s = make()
    assert s.region == "ap-northeast-1" and s.service == "execute-api" and s.verify is True
    assert s.url("start-execution") == BASE + "/start-execution"
    assert "secretvalue123" not in repr(s)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"host": None}, "base URL"),
        ({"login": None}, "access key ID"),
        ({"password": None}, "secret access key"),
        ({"host": "https://api.example.com/stage"}, "region"),
        ({"region": "tokyo"}, "region"),
        ({"host": "http://api.example.com/stage", "region": "us-east-1"}, "not HTTPS"),
        ({"proxy_url": "proxy.example.com:8080"}, "proxy_url"),
        ({"tls_verify": "maybe"}, "tls_verify"),
        ({"read_timeout": "-1"}, "read_timeout"),
        ({"colour": "blue"}, "unknown extra"),
    ],
)
def test_bad_connection_is_rejected_naming_connection_and_field(kwargs, field):
    with pytest.raises(DefinitionError) as info:
        make(**kwargs)
    assert "my_conn" in str(info.value) and field in str(info.value)


def test_plain_http_allowed_on_loopback_only(caplog):
    s = make(host="http://127.0.0.1:9999/stage", region="us-east-1")
    assert s.base_url == "http://127.0.0.1:9999/stage"
    assert "plain http" in caplog.text


def test_redact_hides_every_secret():
    s = make(session_token="tok-123456", proxy_url="http://p:1", proxy_user="u", proxy_password="pw-98765")
    text = s.redact("a secretvalue123 b tok-123456 c pw-98765")
    assert "secretvalue123" not in text and "tok-123456" not in text and "pw-98765" not in text
    assert s.proxy_url_with_auth == "http://u:pw-98765@p:1"


def test_ca_bundle_implies_verification_path():
    assert make(ca_bundle="/etc/ssl/ca.pem").verify == "/etc/ssl/ca.pem"
    assert make(tls_verify="false").verify is False


def test_prefixed_and_empty_extras_from_the_ui_are_accepted():
    s = make(**{"extra__restjob__region": "eu-west-1", "tls_verify": None, "session_token": "", "proxy_url": None})
    assert s.region == "eu-west-1" and s.verify is True and s.session_token is None and s.proxy_url is None
