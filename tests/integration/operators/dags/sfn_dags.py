"""DAGs run with dag.test() by tests/integration/test_operator_dag_test.py (sandbox state machines)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_restjob.operators.step_functions import (
    StepFunctionsExecutionOperator,
    StepFunctionsExpressExecutionOperator,
)
from airflow_restjob.sensors.step_functions import StepFunctionsExecutionSensor

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"
FAST = {"first_poll_delay": 0.2, "poll_interval": 1}

SCENARIOS = {
    "sfn_succeed": {"state_machine_arn": SM + "succeed", "input": {"car": "{{ dag_run.run_id }}"}},
    "sfn_succeed_worker": {"state_machine_arn": SM + "succeed", "input": '{"car": "x"}', "deferrable": False},
    "sfn_fail": {"state_machine_arn": SM + "fail"},
    "sfn_timeout": {"state_machine_arn": SM + "timeout"},
    "sfn_input_file": {"state_machine_arn": SM + "succeed", "input": "reservation_input.json"},
    "sfn_bad_input_json": {"state_machine_arn": SM + "succeed", "input": "{not json"},
    "sfn_missing_file": {"state_machine_arn": SM + "succeed", "input": "no_such_file.json"},
    "sfn_bad_file_json": {"state_machine_arn": SM + "succeed", "input": "broken_input.json"},
    "sfn_bad_arn": {"state_machine_arn": "arn:aws:states:us-east-1:stateMachine"},
    "sfn_unknown_sm": {"state_machine_arn": SM + "does_not_exist"},
    "sfn_bad_name": {"state_machine_arn": SM + "succeed", "name": "bad name/with:chars"},
    "sfn_max_wait": {"state_machine_arn": SM + "long", "max_wait": 3},
    "sfn_max_wait_worker": {"state_machine_arn": SM + "long", "max_wait": 3, "deferrable": False},
    "sfn_max_polls": {"state_machine_arn": SM + "long", "max_polls": 2},
    # {"car": "xxx...", "result": "ok"}: 262,143 bytes, the largest output Step Functions allows (< 256 KiB)
    "sfn_big_output": {"state_machine_arn": SM + "succeed", "input": {"car": "{{ 'x' * 262116 }}"}, "worker_wait": 0},
    "sfn_named": {
        "state_machine_arn": SM + "succeed",
        "name": "fixed-name-{{ dag_run.run_id | replace(':', '-') | replace('+', '-') }}",
    },
    # the direct Step Functions API (sandbox.states_url; the connection signs for "states")
    "sfn_direct_succeed": {"state_machine_arn": SM + "succeed", "input": {"car": "d"}, "conn_id": "restjob_states"},
    "sfn_direct_worker": {
        "state_machine_arn": SM + "succeed",
        "input": {"car": "w"},
        "conn_id": "restjob_states",
        "deferrable": False,
    },
    "sfn_direct_fail": {"state_machine_arn": SM + "fail", "conn_id": "restjob_states"},
    "sfn_direct_max_wait": {"state_machine_arn": SM + "long", "max_wait": 3, "conn_id": "restjob_states"},
    "sfn_direct_other_region": {
        "state_machine_arn": "arn:aws:states:eu-west-1:123456789012:stateMachine:succeed",
        "conn_id": "restjob_states",
    },
}

for dag_id, params in SCENARIOS.items():
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]) as dag:
        StepFunctionsExecutionOperator(task_id="run", **{**FAST, **params})
    globals()[dag_id] = dag


# StepFunctionsExecutionSensor: the test starts the execution and passes its ARN as a Variable
ATTACH = {
    "sfn_attach": {},
    "sfn_attach_worker": {"deferrable": False},
    "sfn_attach_max_wait": {"timeout": 3},
}
for dag_id, params in ATTACH.items():
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]) as dag:
        StepFunctionsExecutionSensor(
            task_id="run", execution_arn="{{ var.value.attach_arn }}", poke_interval=1, **params
        )
    globals()[dag_id] = dag


# Express workflows (StartSyncExecution); the standard operator on an Express machine and the reverse
EXPRESS = {
    "sfn_express_succeed": {"state_machine_arn": SM + "express_succeed", "input": {"car": "e"}},
    "sfn_express_direct": {"state_machine_arn": SM + "express_succeed", "input": {"car": "e"}, "conn_id": "restjob_states"},
    "sfn_express_fail": {"state_machine_arn": SM + "express_fail"},
    "sfn_express_on_standard": {"state_machine_arn": SM + "succeed"},
}
for dag_id, params in EXPRESS.items():
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]) as dag:
        StepFunctionsExpressExecutionOperator(task_id="run", **params)
    globals()[dag_id] = dag
with DAG("sfn_standard_on_express", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    StepFunctionsExecutionOperator(task_id="run", state_machine_arn=SM + "express_succeed", **FAST)
