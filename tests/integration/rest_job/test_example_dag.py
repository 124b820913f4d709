"""The shipped example (dags/rental_car_restjob_files.py + dags/restjob_files/) against the sandbox."""

from __future__ import annotations

from pathlib import Path

from tests.harness.dagrun import load_dagbag, run_dag_test

DAGS = Path(__file__).parents[3] / "dags"


def test_article_files_run_the_rental_car_state_machine(sandbox, restjob_conn, bundles, capfd):
    bag = load_dagbag(DAGS)
    result = run_dag_test(bag.get_dag("rental_car_restjob_files"), capfd)
    assert result.state == "success", result.log
    arn = result.xcom("job_id", task_id="reserve_on_aws")
    assert arn.startswith("arn:aws:states:us-east-1:123456789012:execution:rental_car:")
    assert result.xcom("executionArn", task_id="reserve_on_aws") == arn
    assert result.xcom("execution_status", task_id="reserve_on_aws") == "SUCCEEDED"
    assert sandbox.describe_execution(arn)["status"] == "SUCCEEDED"
    assert "HttpStatusCode=200" in result.log
    assert result.task_states["notify_branch"] == "success"
