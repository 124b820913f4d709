"""Every file in the repository's ``dags/`` imports cleanly with Airflow's own DagBag (no processes).

A user copies these files first: an import error here is a broken first impression.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[3] / "dags"


def _dagbag(folder: Path):
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow >= 3.2
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag(dag_folder=str(folder), safe_mode=False)


@pytest.fixture(scope="module")
def dagbag():
    return _dagbag(DAGS)


def test_every_example_dag_file_imports(dagbag):
    assert not dagbag.import_errors, "\n\n".join(f"{f}:\n{e}" for f, e in dagbag.import_errors.items())
    files = sorted(p.name for p in DAGS.glob("*.py") if not p.name.startswith("_"))
    assert files, f"no DAG files in {DAGS}"
    loaded = {Path(dag.fileloc).name for dag in dagbag.dags.values()}
    assert set(files) <= loaded, f"files without a DAG: {sorted(set(files) - loaded)}"


def test_example_dags_have_tasks(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tasks, f"{dag_id} has no tasks"


def test_an_import_error_is_caught(tmp_path):
    """The check above can fail: DagBag reports a broken file instead of raising."""
    (tmp_path / "broken.py").write_text("from airflow.sdk import DAG\nimport no_such_module_xyz\n")
    errors = _dagbag(tmp_path).import_errors
    assert len(errors) == 1 and "no_such_module_xyz" in next(iter(errors.values()))
