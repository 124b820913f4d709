"""``RestJobTrigger.serialize()`` and back: what the trigger table stores rebuilds the same trigger.

Airflow stores ``serialize()``'s kwargs as JSON (``encrypted_kwargs``; plain JSON without a fernet
key) and the triggerer does ``import_string(classpath)(**kwargs)``. New rows name the route
explicitly (``conn_id``, ``auth_conn_id``, ``proxy_conn_id``, ``origin``); rows of the first
release have no ``auth_conn_id`` and their ``conn_id`` is a plain connection id or
``restjob-route:{json}``. Kwargs are stored in plaintext: they hold connection ids, never secrets.
"""

from __future__ import annotations

import importlib
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_restjob.connections.routes import LEGACY_ROUTE_PREFIX, Route
from airflow_restjob.rest_job import step_functions as sfn
from airflow_restjob.rest_job.spec import JobSpec, PollSpec, RequestSpec
from airflow_restjob.triggers.rest_job import RestJobTrigger

CLASSPATH = "airflow_restjob.triggers.rest_job.RestJobTrigger"
ARN = "arn:aws:states:us-east-1:123456789012:execution:sm:dag.task.run.try1"
ROUTE_KEYS = ("conn_id", "auth_conn_id", "proxy_conn_id", "origin")
ALL_KEYS = {
    *ROUTE_KEYS,
    "job_id",
    "spec",
    "deadline",
    "task_identity",
    "id_xcom_key",
    "stop_on_kill",
    "reason",
    "not_before",
}
IDENTITY = {
    "dag_id": "dag",
    "task_id": "task",
    "run_id": "manual__2026-01-01",
    "map_index": 4,
    "try_number": 3,
}


def generic_spec() -> JobSpec:
    return JobSpec(
        label="REST job",
        monitor=RequestSpec(
            path="https://jobs.example.com/v1/jobs/j-1",
            method="GET",
            query={"team": "ops", "verbose": ["a", "b"]},
            headers={"X-Run": "manual__2026-01-01"},
            timeout=12.5,
        ),
        end_key="job.state",
        end_values=("DONE", "ERROR"),
        result_key="job.result.code",
        success_values=("0",),
        terminate=RequestSpec(path="jobs/j-1", method="DELETE", timeout=0.5),
        poll=PollSpec(
            first_delay=3, interval=7, max_interval=70, backoff=1.5, max_polls=9, max_wait=900, jitter=0.2
        ),
        error_keys=("job.error",),
    )


ROUTES = {
    "step_functions": Route.of("restjob_default"),
    "unsigned_base": Route(base="jobapi"),
    "signed_base_proxy": Route(base="jobapi", auth="signer", proxy="corp_proxy"),
    "unsigned_origin": Route(origin="https://jobs.example.com"),
    "signed_origin": Route(auth="signer", origin="https://jobs.example.com"),
}


def trigger_kwargs(route: Route, spec: JobSpec) -> dict[str, Any]:
    """The kwargs ``RestJobBaseOperator._wait`` builds the trigger with."""
    return {
        "conn_id": route.base,
        "auth_conn_id": route.auth,
        "proxy_conn_id": route.proxy,
        "origin": route.origin,
        "job_id": "j-1",
        "spec": spec.to_dict(),
        "deadline": 1_900_000_123.25,
        "task_identity": IDENTITY,
        "id_xcom_key": "job_id",
        "stop_on_kill": False,
        "reason": "execution_timeout=0:15:00",
        "not_before": 1_900_000_000.5,
    }


def rebuild(classpath: str, kwargs: dict[str, Any]) -> RestJobTrigger:
    """What the triggerer does with a stored row."""
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**kwargs)


def through_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(kwargs))


def state(trigger: RestJobTrigger) -> dict[str, Any]:
    """Everything a trigger is built from, in comparable form."""
    return {
        "route": trigger.route,
        "job_id": trigger.job_id,
        "spec": JobSpec.from_dict(trigger.spec),
        "deadline": trigger.deadline,
        "task_identity": trigger.task_identity,
        "id_xcom_key": trigger.id_xcom_key,
        "stop_on_kill": trigger.stop_on_kill,
        "reason": trigger.reason,
        "not_before": trigger.not_before,
    }


@pytest.mark.parametrize("route_name", sorted(ROUTES))
@pytest.mark.parametrize("spec_name", ["generic", "step_functions"])
def test_serialize_round_trip_rebuilds_an_equal_trigger(route_name, spec_name):
    route = ROUTES[route_name]
    spec = (
        generic_spec() if spec_name == "generic" else sfn.job_spec(ARN, PollSpec(first_delay=1, max_polls=3))
    )
    kwargs = trigger_kwargs(route, spec)
    original = RestJobTrigger(**kwargs)
    assert original.route == route

    classpath, stored = original.serialize()
    assert classpath == CLASSPATH
    assert set(stored) == ALL_KEYS
    assert stored == kwargs  # nothing lost or renamed

    for restored_kwargs in (stored, through_json(stored)):  # as built, and as read back from the table
        restored = rebuild(classpath, restored_kwargs)
        assert type(restored) is RestJobTrigger
        assert state(restored) == state(original)
        assert state(restored)["spec"] == spec
        assert restored.serialize() == (classpath, stored)


def test_json_round_trip_changes_nothing():
    classpath, stored = RestJobTrigger(
        **trigger_kwargs(ROUTES["signed_base_proxy"], generic_spec())
    ).serialize()
    text = json.dumps(stored)
    assert json.loads(text) == stored
    assert json.dumps(rebuild(classpath, json.loads(text)).serialize()[1]) == text
    # the stored spec rebuilds every field, e.g. the termination request's timeout
    spec = JobSpec.from_dict(json.loads(text)["spec"])
    assert spec.terminate == RequestSpec(path="jobs/j-1", method="DELETE", timeout=0.5)
    assert spec.monitor.timeout == 12.5 and spec.poll.max_polls == 9


@pytest.mark.parametrize("route_name", sorted(ROUTES))
def test_new_kwargs_name_the_route_explicitly(route_name):
    route = ROUTES[route_name]
    _, stored = RestJobTrigger(**trigger_kwargs(route, generic_spec())).serialize()
    assert {k: stored[k] for k in ROUTE_KEYS} == {
        "conn_id": route.base,
        "auth_conn_id": route.auth,
        "proxy_conn_id": route.proxy,
        "origin": route.origin,
    }
    assert LEGACY_ROUTE_PREFIX not in json.dumps(stored)
    assert "restjob-route:" not in json.dumps(stored)


@pytest.mark.parametrize(
    "legacy_conn_id, expected",
    [
        ("restjob_default", Route(base="restjob_default", auth="restjob_default")),
        (
            'restjob-route:{"auth":null,"base":"jobapi","origin":null,"proxy":null}',
            Route(base="jobapi"),
        ),
        (
            'restjob-route:{"auth":"restjob_default","base":"restjob_default","origin":null,"proxy":"restjob_proxy"}',
            Route(base="restjob_default", auth="restjob_default", proxy="restjob_proxy"),
        ),
        (
            'restjob-route:{"auth":"signer","base":null,"origin":"https://jobs.example.com","proxy":null}',
            Route(auth="signer", origin="https://jobs.example.com"),
        ),
    ],
    ids=["plain_id", "unsigned_base", "signed_proxy", "origin"],
)
def test_a_first_release_row_maps_to_the_right_route(legacy_conn_id, expected):
    # a 0.1.0 row: no auth_conn_id / proxy_conn_id / origin keys
    legacy = {k: v for k, v in trigger_kwargs(Route(), generic_spec()).items() if k not in ROUTE_KEYS}
    legacy["conn_id"] = legacy_conn_id
    trigger = rebuild("airflow_restjob.triggers.rest_job.RestJobTrigger", through_json(legacy))
    assert trigger.route == expected
    assert trigger.hook().route == expected
    # re-serialized, the row is a new one: explicit route, no legacy string
    classpath, stored = trigger.serialize()
    assert classpath == CLASSPATH
    assert LEGACY_ROUTE_PREFIX not in json.dumps(stored)
    assert rebuild(classpath, through_json(stored)).route == expected
    for key in ALL_KEYS - set(ROUTE_KEYS):
        assert stored[key] == legacy[key], key


def test_an_explicit_unsigned_route_is_not_read_as_a_first_release_row():
    # auth_conn_id present but None (unsigned): conn_id is the base connection, never a signer
    kwargs = through_json(trigger_kwargs(Route(base="jobapi"), generic_spec()))
    assert kwargs["auth_conn_id"] is None
    assert rebuild(CLASSPATH, kwargs).route == Route(base="jobapi", auth=None)


# --- no secrets in the kwargs -----------------------------------------------------------------------
SECRETS = {
    "login": "AKIAEXAMPLEKEYID1234",
    "password": "s3cr3t-Access-Key/wJalrXUtnFEMI",
    "session_token": "IQoJb3JpZ2luX2VjE-session-token-value",
    "proxy_password": "pr0xy-Pa55word-value",
}


class FakeTI:
    dag_id, task_id, run_id, map_index, try_number = "dag", "task", "manual__2026-01-01", -1, 1
    start_date = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


@pytest.fixture()
def secret_connections(monkeypatch) -> None:
    from airflow_restjob.hooks.rest_job import RestJobHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_SECRET_SIGNER",
        json.dumps(
            {
                "conn_type": "restjob",
                "host": "https://abc123.execute-api.us-east-1.amazonaws.com/stage",
                "login": SECRETS["login"],
                "password": SECRETS["password"],
                "extra": {"session_token": SECRETS["session_token"]},
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_SECRET_PROXY",
        json.dumps(
            {
                "conn_type": "http",
                "host": "http://proxy.example.com:3128",
                "login": "pu",
                "password": SECRETS["proxy_password"],
            }
        ),
    )
    RestJobHook.forget_cached_settings()


def secrets_in(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def test_step_functions_operator_defers_with_ids_only(secret_connections, monkeypatch):
    from airflow_restjob.hooks.step_functions import StepFunctionsHook
    from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

    try:
        from airflow.sdk.exceptions import TaskDeferred
    except ImportError:  # pragma: no cover - older layouts
        from airflow.exceptions import TaskDeferred

    monkeypatch.setattr(StepFunctionsHook, "post", lambda self, path, body=None, **kw: {"executionArn": ARN})
    op = StepFunctionsExecutionOperator(
        task_id="task",
        conn_id="secret_signer",
        state_machine_arn=ARN.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0],
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": FakeTI()})
    assert (
        op._client is not None and op._client.settings.secret_access_key == SECRETS["password"]
    )  # it had them

    trigger = deferred.value.trigger
    classpath, kwargs = trigger.serialize()
    text = json.dumps(kwargs)
    assert secrets_in(text) == []
    assert kwargs["conn_id"] == kwargs["auth_conn_id"] == "secret_signer"
    # ... and the ids are enough to get the credentials back where the trigger runs
    restored = rebuild(classpath, json.loads(text))
    assert restored.hook().settings().secret_access_key == SECRETS["password"]


def test_a_route_with_signer_and_proxy_stores_ids_only(secret_connections):
    from airflow_restjob.hooks.rest_job import RestJobHook

    route = Route(base="secret_signer", auth="secret_signer", proxy="secret_proxy")
    settings = RestJobHook(route=route).settings()
    assert (
        settings.secret_access_key == SECRETS["password"]
        and settings.proxy_password == SECRETS["proxy_password"]
    )
    assert settings.session_token == SECRETS["session_token"]

    _, kwargs = RestJobTrigger(**trigger_kwargs(route, generic_spec())).serialize()
    text = json.dumps(kwargs)
    assert secrets_in(text) == []
    assert [kwargs[k] for k in ROUTE_KEYS] == ["secret_signer", "secret_signer", "secret_proxy", None]
    restored = rebuild(CLASSPATH, json.loads(text)).hook().settings()
    assert (
        restored.proxy_password == SECRETS["proxy_password"]
        and restored.session_token == SECRETS["session_token"]
    )
