"""A direct Step Functions API connection needs a Region: from the states.* host, or extra 'region'."""

from __future__ import annotations

import pytest

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.errors import DefinitionError


def settings(host: str, **extra) -> ConnectionSettings:
    return ConnectionSettings.from_fields(
        "sfn", host=host, login="AKIAEXAMPLE000000000", password="s", extra={"service": "states", **extra}
    )


def test_a_vpc_endpoint_or_private_host_without_region_names_the_field_and_the_fix():
    with pytest.raises(DefinitionError) as caught:
        settings("https://sfn.internal.example.com")
    text = str(caught.value)
    assert "end code 2" in text and "Connection 'sfn': the region is missing (extra field 'region')" in text
    assert "Fix: Set extra 'region' to the API's AWS Region" in text


@pytest.mark.parametrize(
    "host, region",
    [
        ("https://states.eu-west-1.amazonaws.com", "eu-west-1"),
        ("https://states-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
        ("https://vpce-0a1b-xyz.states.ap-northeast-1.vpce.amazonaws.com", "ap-northeast-1"),
    ],
)
def test_the_region_comes_from_a_states_host(host, region):
    assert settings(host).region == region


def test_an_explicit_region_wins():
    assert settings("https://sfn.internal.example.com", region="ap-southeast-2").region == "ap-southeast-2"
