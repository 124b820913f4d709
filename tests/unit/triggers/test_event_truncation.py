"""``RestJobTrigger._event``: the final event, with a response too large for the trigger table
replaced by a bounded preview (``{"truncated": ...}``) and everything else kept as it is."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest

from airflow_restjob.rest_job import step_functions as sfn
from airflow_restjob.rest_job.spec import PollSpec, RequestSpec
from airflow_restjob.transport.common import Reply
from airflow_restjob.triggers.rest_job import MAX_EVENT_RESPONSE, RestJobTrigger

ARN = "arn:aws:states:us-east-1:123456789012:execution:sm:run-1"
# what "... (N chars)" may add to a preview of MAX_EVENT_RESPONSE characters
PREVIEW_SUFFIX_MAX = 40


def make_trigger(poll: PollSpec | None = None) -> RestJobTrigger:
    return RestJobTrigger(
        conn_id="restjob_default",
        auth_conn_id="restjob_default",
        job_id=ARN,
        spec=sfn.job_spec(ARN, poll or PollSpec(first_delay=0, interval=1, jitter=0)).to_dict(),
    )


def payload_with(response: Any) -> dict[str, Any]:
    return {
        "status": "success",
        "job_id": ARN,
        "job_status": "SUCCEEDED",
        "response": response,
        "details": {"error": None, "cause": None},
        "http_status": 200,
    }


def json_chars(value: Any) -> int:
    """The response's size as ``_event`` measures it: characters of its JSON text (not bytes)."""
    return len(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


def response_of_size(chars: int, fill: str = "x") -> dict[str, Any]:
    """``{"status": ..., "output": "xxx..."}`` whose JSON text has exactly ``chars`` characters."""
    empty = {"status": "SUCCEEDED", "output": ""}
    response = {"status": "SUCCEEDED", "output": fill * (chars - json_chars(empty))}
    assert json_chars(response) == chars
    return response


def others(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != "response"}


@pytest.mark.parametrize("chars", [100, MAX_EVENT_RESPONSE // 2, MAX_EVENT_RESPONSE])
def test_a_response_up_to_the_limit_is_kept_whole(chars):
    response = response_of_size(chars)
    payload = payload_with(response)
    event = make_trigger()._event(payload)
    assert event.payload == payload
    assert event.payload["response"] == response


@pytest.mark.parametrize("chars", [MAX_EVENT_RESPONSE + 1, MAX_EVENT_RESPONSE * 3])
def test_a_response_over_the_limit_is_replaced_by_a_bounded_preview(chars):
    response = response_of_size(chars)
    payload = payload_with(response)
    before = copy.deepcopy(payload)
    event = make_trigger()._event(payload)

    assert set(event.payload["response"]) == {"truncated"}
    preview = event.payload["response"]["truncated"]
    assert isinstance(preview, str)
    assert MAX_EVENT_RESPONSE <= len(preview) <= MAX_EVENT_RESPONSE + PREVIEW_SUFFIX_MAX
    text = json.dumps(response, ensure_ascii=False)
    assert preview.startswith(text[:MAX_EVENT_RESPONSE])  # the start of the response, as JSON
    assert f"({chars} chars)" in preview  # and how large it was
    # the whole event stays small whatever the response's size
    assert len(json.dumps(event.payload)) < MAX_EVENT_RESPONSE + 1000
    # the task is told to read the response again; every other key is untouched, and the caller's
    # payload is not modified
    assert event.payload["response_truncated"] is True
    assert others(event.payload) == {**others(before), "response_truncated": True}
    assert "response_truncated" not in payload
    assert payload == before


def test_size_is_counted_in_characters_of_the_json_text():
    # 150,000 non-ASCII characters: about 300 KB as UTF-8 and 900 KB as \\u-escaped JSON, but under the limit
    response = response_of_size(150_000, fill="é")
    assert len(json.dumps(response).encode()) > MAX_EVENT_RESPONSE
    assert make_trigger()._event(payload_with(response)).payload["response"] == response


def test_a_string_response_is_measured_as_it_is():
    small, big = "a" * MAX_EVENT_RESPONSE, "b" * (MAX_EVENT_RESPONSE + 1)
    assert make_trigger()._event(payload_with(small)).payload["response"] == small
    truncated = make_trigger()._event(payload_with(big)).payload["response"]
    assert truncated["truncated"].startswith("b" * MAX_EVENT_RESPONSE)
    assert len(truncated["truncated"]) <= MAX_EVENT_RESPONSE + PREVIEW_SUFFIX_MAX


def test_a_large_list_response_is_truncated_too():
    response = [{"item": i, "text": "y" * 100} for i in range(3000)]
    assert json_chars(response) > MAX_EVENT_RESPONSE
    assert set(make_trigger()._event(payload_with(response)).payload["response"]) == {"truncated"}


@pytest.mark.parametrize(
    "payload",
    [
        {
            "status": "timeout",
            "job_id": ARN,
            "message": "the wait exceeded its deadline (max_wait)",
            "stopped": True,
        },
        {"status": "polls_exhausted", "job_id": ARN, "message": "3 polls", "stopped": False},
        {
            "status": "error",
            "job_id": ARN,
            "message": "x" * (MAX_EVENT_RESPONSE * 2),
            "end_code": 8,
            "error_type": None,
        },
        payload_with(None),
    ],
    ids=["timeout", "polls_exhausted", "error_with_long_message", "response_none"],
)
def test_a_payload_without_response_is_unchanged(payload):
    before = copy.deepcopy(payload)
    assert make_trigger()._event(payload).payload == before


async def test_run_sends_the_truncated_event(monkeypatch):
    """``run()`` yields its final event through ``_event``."""
    huge = response_of_size(MAX_EVENT_RESPONSE * 2)

    def sender(self: RestJobTrigger, hook: Any, spec: Any) -> Any:
        async def send(request: RequestSpec) -> Any:
            assert request is spec.monitor
            return Reply(200, {}, huge)

        return send

    monkeypatch.setattr(RestJobTrigger, "_sender", sender)
    events = make_trigger().run()
    event = await asyncio.wait_for(events.__anext__(), 5)
    await events.aclose()
    assert event.payload["status"] == "success" and event.payload["job_status"] == "SUCCEEDED"
    assert set(event.payload["response"]) == {"truncated"}
    assert len(json.dumps(event.payload)) < MAX_EVENT_RESPONSE + 1000
