"""A 256 KiB execution output (the Step Functions limit) reaches XCom through a real Airflow: the
trigger's event carries a preview only (the trigger table is no place for it) and the task reads
the whole output again from the worker."""

from __future__ import annotations

import json

from tests.e2e.dags.sfn_big_output import CAR_LENGTH
from tests.e2e.waiting import patient


def test_a_256_kib_output_reaches_xcom(airflow_sandbox, sandbox):
    api = airflow_sandbox.client
    patient(api.wait_for_dag, "e2e_big_output", timeout=180)
    patient(api.unpause, "e2e_big_output")
    run_id = patient(api.trigger, "e2e_big_output")
    run = patient(api.wait_run, "e2e_big_output", run_id, timeout=240)
    assert run["state"] == "success", api.task_states("e2e_big_output", run_id)
    output = patient(api.xcom, "e2e_big_output", run_id, "run")
    assert output == {"car": "x" * CAR_LENGTH, "result": "ok"}
    assert len(json.dumps(output)) == 262_143
    arn = patient(api.xcom, "e2e_big_output", run_id, "run", "execution_arn")
    assert json.loads(sandbox.describe_execution(arn)["output"]) == output  # what Step Functions holds
    log = patient(api.task_log, "e2e_big_output", run_id, "run", 1)
    assert "too large for the trigger event: reading it again from the worker" in log, log
