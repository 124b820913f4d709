"""Which state an execution failed in, from GetExecutionHistory pages read newest first."""

from __future__ import annotations

from airflow_restjob.rest_job import step_functions as sfn


def entered(name: str, kind: str = "Task") -> dict:
    return {"type": f"{kind}StateEntered", "stateEnteredEventDetails": {"name": name}}


def test_execution_failure_and_the_state_last_entered():
    search = sfn.FailureSearch()
    done = search.feed(
        [
            {"type": "ExecutionFailed", "executionFailedEventDetails": {"error": "E", "cause": "C"}},
            {"type": "TaskFailed", "taskFailedEventDetails": {"error": "inner", "cause": "inner cause"}},
            entered("Charge"),
            entered("Validate", "Pass"),
        ]
    )
    assert done
    assert search.result() == sfn.FailedState("Charge", "Task", "E", "C")


def test_a_task_failure_gives_the_cause_when_the_execution_event_has_none():
    search = sfn.FailureSearch()
    search.feed(
        [
            {"type": "ExecutionAborted", "executionAbortedEventDetails": {}},
            {"type": "LambdaFunctionTimedOut", "lambdaFunctionTimedOutEventDetails": {"error": "States.Timeout"}},
            entered("Invoke"),
        ]
    )
    assert search.result() == sfn.FailedState("Invoke", "Task", "States.Timeout", None)


def test_the_state_may_be_on_a_later_page():
    search = sfn.FailureSearch()
    assert not search.feed([{"type": "ExecutionTimedOut", "executionTimedOutEventDetails": {"error": "States.Timeout"}}])
    assert not search.feed([{"type": "WaitStateExited"}])
    assert search.feed([entered("TooLong", "Wait")])
    assert search.result() == sfn.FailedState("TooLong", "Wait", "States.Timeout", None)


def test_nothing_usable_gives_none_and_bad_pages_are_ignored():
    search = sfn.FailureSearch()
    assert not search.feed(None)
    assert not search.feed(["not an event", {"type": "ExecutionStarted"}])
    assert search.result() is None


def test_describe_bounds_the_cause_and_says_when_the_state_is_unknown():
    text = sfn.FailedState("S", "Task", "E", "x" * 5000).describe(limit=10)
    assert text == "state 'S' (Task): error='E', cause='xxxxxxxxxx...'"
    assert sfn.FailedState(None, None, "E", None).describe().startswith("an unknown state")


def test_history_body_reads_newest_first_without_data():
    assert sfn.history_body("arn", "tok") == {
        "executionArn": "arn",
        "reverseOrder": True,
        "maxResults": sfn.HISTORY_PAGE_SIZE,
        "includeExecutionData": False,
        "nextToken": "tok",
    }
    assert "nextToken" not in sfn.history_body("arn")
