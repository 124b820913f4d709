"""A failed execution's last answer is logged at ERROR without its business data."""

from __future__ import annotations

from airflow_restjob.operators.step_functions import _outline


def test_input_and_output_are_logged_by_size_only():
    response = {
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:sm:e1",
        "status": "FAILED",
        "error": "States.TaskFailed",
        "cause": "vehicle not available",
        "input": '{"customer": "Taro Yamada", "card": "4111-1111"}',
        "inputDetails": {"included": True},
        "output": '{"secret": "x"}',
    }
    line = _outline(response)
    assert "Taro Yamada" not in line and "4111" not in line and '"secret"' not in line
    assert f"input=<{len(response['input'])} chars>" in line and "output=<15 chars>" in line
    assert "status=FAILED" in line and "error=States.TaskFailed" in line and "vehicle not available" in line
    assert "executionArn=arn:aws:states:us-east-1:123456789012:execution:sm:e1" in line


def test_a_non_object_answer_is_previewed():
    assert _outline("not json") == "not json"
