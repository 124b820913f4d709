"""Run a DAG with dag.test() and collect what a test asserts on: states, XComs, the task output."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def load_dagbag(folder: Path) -> Any:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    bag = DagBag(dag_folder=str(folder))
    assert not bag.import_errors, bag.import_errors
    return bag


@dataclass
class RunResult:
    state: str
    run_id: str
    dag_id: str
    log: str
    task_states: dict[str, str] = field(default_factory=dict)

    def xcom(self, key: str, task_id: str = "run") -> Any:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = (
                session.query(XComModel)
                .filter_by(dag_id=self.dag_id, run_id=self.run_id, task_id=task_id, key=key)
                .one_or_none()
            )
            if row is None:
                return None
            value = row.value
        import json

        if isinstance(value, (str, bytes)):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


def run_dag_test(dag: Any, capfd: Any) -> RunResult:
    """Run ``dag`` with dag.test(); ``capfd`` (pytest's fixture) collects the task output."""
    capfd.readouterr()
    dag_run = dag.test()
    captured = capfd.readouterr()
    out = [captured.out + captured.err]
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    state = str(getattr(dag_run.state, "value", dag_run.state))
    return RunResult(state=state, run_id=dag_run.run_id, dag_id=dag.dag_id, log=out[0], task_states=states)
