"""StepFunctionsExecutionSensor through a real Airflow: deferred on an execution it did not start,
it returns that execution's output; marked failed while deferred, it leaves the execution running
(stop_on_kill defaults to False)."""

from __future__ import annotations

import time
import uuid

from tests.e2e.waiting import patient, wait_until

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"


def start_outside(sandbox, machine: str, input: str = "{}") -> str:
    return sandbox.aws_client("stepfunctions").start_execution(
        stateMachineArn=SM + machine, name=f"outside-{uuid.uuid4().hex[:8]}", input=input
    )["executionArn"]


def test_the_sensor_waits_for_an_outside_execution_and_never_stops_it(airflow_sandbox, sandbox):
    api = airflow_sandbox.client
    patient(api.wait_for_dag, "e2e_attach", timeout=180)
    patient(api.unpause, "e2e_attach")

    arn = start_outside(sandbox, "succeed", '{"car": "outside"}')
    patient(api.set_variable, "attach_arn", arn)
    run_id = patient(api.trigger, "e2e_attach")
    run = patient(api.wait_run, "e2e_attach", run_id, timeout=240)
    assert run["state"] == "success", api.task_states("e2e_attach", run_id)
    assert patient(api.xcom, "e2e_attach", run_id, "run") == {"car": "outside", "result": "ok"}

    arn = start_outside(sandbox, "long")
    patient(api.set_variable, "attach_arn", arn)
    run_id = patient(api.trigger, "e2e_attach")
    wait_until(lambda: api.task_states("e2e_attach", run_id).get("run") == "deferred", 180, "deferred", interval=1)
    patient(api.set_task_state, "e2e_attach", run_id, "run", "failed")
    time.sleep(10)  # the trigger's cancellation and its guard have run by now (a stop comes within ~2 s)
    assert not sandbox.stops_for(arn)
    assert sandbox.describe_execution(arn)["status"] == "RUNNING"
    sandbox.aws_client("stepfunctions").stop_execution(executionArn=arn)
