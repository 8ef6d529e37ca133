"""`labdeck.client.Client` against a real `labdeck demo` server: every method, every error."""

from __future__ import annotations

import itertools
import sys
import threading
import time
import uuid

import httpx
import pytest

import labdeck.client.runs
from labdeck.client import Client, Event, LabdeckClientError, RemoteInstrumentError, Run
from tests.client.conftest import ROLE_PASSWORD
from tests.client.helpers import (
    DOSE_SCRIPT,
    FORMAT,
    document,
    dose_workflow,
    published,
    slow_workflow,
    unique,
    wait_for,
)
from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow


# --- auth and deck ---------------------------------------------------------------------------


def test_login_me_logout_and_health(demo_server: ServerProcess, operator_token: str) -> None:
    with Client(demo_server.base_url) as anonymous:
        assert anonymous.health()["status"] == "ok"
        with pytest.raises(LabdeckClientError) as refused:
            anonymous.me()
        assert (refused.value.status, refused.value.code) == (401, "NOT_AUTHENTICATED")
        token = anonymous.login("olga", ROLE_PASSWORD, label="client test")
        assert token["user"]["name"] == "olga"
        assert anonymous.me() == {"name": "olga", "role": "operator", "auth": "api"}
        anonymous.logout()
        with pytest.raises(LabdeckClientError):
            anonymous.me()
    with (
        Client(demo_server.base_url, token["token"]) as revoked,
        pytest.raises(LabdeckClientError) as caught,
    ):
        revoked.me()
    assert caught.value.code == "BAD_TOKEN"


def test_deck_and_direct_calls(lab: Client) -> None:
    deck = lab.deck()
    assert "dispenser" in deck["instruments"]
    assert lab.call_function("reset_bench", seed=1) is None
    delivered = lab.call("dispenser", "dispense", volume_ml=1.5, solvent="ethanol")
    assert abs(delivered - 1.5) < 0.1
    assert isinstance(lab.call("balance", "weigh"), float)
    lab.set_property("hotplate", "target_temperature", 30)
    assert lab.get_property("hotplate", "target_temperature") == 30
    lab.call("hotplate", "off")
    assert lab.get_property("spectrometer", "mode") == "absorbance"


def test_a_call_that_ran_and_failed_raises_the_instrument_error(lab: Client) -> None:
    with pytest.raises(RemoteInstrumentError) as failed:
        lab.call("broken_pump", "prime")
    assert failed.value.code == "UNHANDLED_EXCEPTION"
    assert failed.value.status == 200  # it ran
    assert failed.value.retryable is False
    assert "stalled" in failed.value.message
    assert failed.value.detail["call_id"]
    with pytest.raises(RemoteInstrumentError) as disconnected:
        lab.call("broken_pump", "reconnect")
    assert (disconnected.value.code, disconnected.value.retryable) == ("CONNECTION", True)


def test_refused_calls_raise_remote_instrument_errors_with_the_status(lab: Client) -> None:
    with pytest.raises(RemoteInstrumentError) as invalid:
        lab.call("balance", "dose_solid", amount_mg=-1)
    assert (invalid.value.status, invalid.value.code) == (422, "INVALID_INPUT")
    assert invalid.value.detail["fields"][0]["field"] == "amount_mg"
    with pytest.raises(RemoteInstrumentError) as unknown:
        lab.call("nothing", "here")
    assert (unknown.value.status, unknown.value.code) == (404, "NOT_FOUND")
    with pytest.raises(RemoteInstrumentError) as no_property:
        lab.get_property("balance", "colour")
    assert no_property.value.status == 404


def test_viewers_may_read_but_not_act(demo_server: ServerProcess, viewer_token: str) -> None:
    with Client(demo_server.base_url, viewer_token) as viewer:
        assert viewer.me()["role"] == "viewer"
        assert viewer.queue()["paused"] in (True, False)
        with pytest.raises(LabdeckClientError) as forbidden:
            viewer.start_run("dye-absorbance")
        assert (forbidden.value.status, forbidden.value.code) == (403, "ROLE_REQUIRED")


# --- workflows -------------------------------------------------------------------------------


def test_workflows_create_update_publish_import_export(lab: Client) -> None:
    name = unique("library")
    created = lab.create_workflow(
        document(name, DOSE_SCRIPT, parameters=[{"name": "amount_mg"}], tags=["client"])
    )
    assert created["name"] == name
    assert created["active_version"] is None
    assert lab.workflow(name)["draft"]["script"][0]["id"] == "dose"
    assert lab.workflow(created["id"])["name"] == name  # by id too

    broken = document(name, [{"id": "x", "kind": "call", "target": "balance.fly"}])
    problems = lab.update_draft(name, broken)
    assert problems
    assert problems[0]["step"] == "x"
    with pytest.raises(LabdeckClientError) as invalid:
        lab.publish(name)
    assert invalid.value.status == 422
    assert lab.update_draft(name, document(name, DOSE_SCRIPT, parameters=[])) != []
    fixed = document(
        name, DOSE_SCRIPT, parameters=[{"name": "amount_mg", "default": 2}], tags=["client"]
    )
    assert lab.update_draft(name, fixed) == []
    assert lab.publish(name) == 1
    with pytest.raises(LabdeckClientError) as unchanged:
        lab.publish(name)
    assert (unchanged.value.status, unchanged.value.code) == (409, "NO_CHANGES")
    fixed["parameters"] = [{"name": "amount_mg", "default": 3}]
    lab.update_draft(name, fixed)
    assert lab.publish(name) == 2

    assert [w["name"] for w in lab.workflows(name)] == [name]
    assert name in [w["name"] for w in lab.workflows(tag="client")]
    assert all(w["status"] == "active" for w in lab.workflows(status="active"))

    exported = lab.export_workflow(name)
    assert exported["name"] == name
    assert lab.export_workflow(name, version=1)["format"] == FORMAT
    copy = lab.import_workflow(dict(exported, name=unique("imported")))
    assert copy["problems"] == []
    assert copy["report"] == []
    function = f"weigh_{uuid.uuid4().hex[:6]}"
    python = lab.import_workflow(
        {"python": f"def {function}():\n    balance.tare()\n    balance.weigh()\n"}
    )
    assert python["name"] == function
    assert [step["target"] for step in python["draft"]["script"][:2]] == [
        "balance.tare",
        "balance.weigh",
    ]


def test_names_with_spaces_and_dots_find_their_workflow(lab: Client) -> None:
    name = unique("dose 1.5 mg")
    lab.create_workflow(document(name, DOSE_SCRIPT, parameters=[{"name": "amount_mg"}]))
    assert lab.workflow(name)["name"] == name


# --- runs --------------------------------------------------------------------------------------


def test_repeat_run_and_wait_with_progress(lab: Client) -> None:
    name = dose_workflow(lab)
    run = lab.start_run(name, repeat=3, name="three doses")
    assert (run["mode"], run["name"]) == ({"repeat": 3}, "three doses")
    seen: list[Run] = []
    done = lab.wait(run["id"], timeout=30, poll_interval=0.01, on_progress=seen.append)
    assert done["status"] == "completed"
    assert done["progress"]["done"] == 3
    assert seen[-1] == done
    states = [(r["status"], r["status_reason"], r["progress"], r["prompt"]) for r in seen]
    assert all(a != b for a, b in itertools.pairwise(states))  # only changes
    assert len(seen) >= 2
    assert lab.run(run["id"])["status"] == "completed"
    steps = lab.steps(run["id"])
    assert [s["iteration"] for s in steps["samples"]] == [1, 2, 3]
    assert "status running -> completed" in lab.log(run["id"])
    assert lab.rename_run(run["id"], "renamed")["name"] == "renamed"


def test_wait_gives_up_after_its_timeout(lab: Client) -> None:
    run = lab.start_run(slow_workflow(lab, seconds=2))
    with pytest.raises(TimeoutError, match="goes on on the server"):
        lab.wait(run["id"], timeout=0.05, poll_interval=0.01)


def test_table_run_results_and_frame(lab: Client) -> None:
    name = dose_workflow(lab)
    run = lab.start_run(name, table=[{"amount_mg": 2}, {"amount_mg": "4"}], retries=1)
    assert run["mode"] == {"table": [{"amount_mg": 2.0}, {"amount_mg": 4.0}]}
    assert run["options"]["retries"] == 1
    lab.wait(run["id"], timeout=30, poll_interval=0.02)
    results = lab.results(run["id"])
    assert [(r["iteration"], r["amount_mg"]) for r in results] == [(1, 2.0), (2, 4.0)]
    frame = lab.results_frame(run["id"])
    assert list(frame["amount_mg"]) == [2.0, 4.0]
    assert {"iteration", "sample", "mass"} <= set(frame.columns)


def test_results_frame_says_how_to_get_pandas(lab: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install pandas"):
        lab.results_frame("1")


def test_one_mode_at_a_time(lab: Client) -> None:
    with pytest.raises(ValueError, match="repeat and table"):
        lab.start_run("dye-absorbance", repeat=2, table=[{}])


def test_a_campaign_run_and_its_view(lab: Client) -> None:
    campaign = {
        "parameters": [{"name": "amount_mg", "type": "float", "low": 1, "high": 10}],
        "objectives": [{"name": "absorbance", "direction": "maximize"}],
        "budget": 2,
        "seed": 3,
    }
    run = lab.start_run("dye-absorbance", campaign=campaign)
    assert run["mode"]["campaign"]["budget"] == 2
    assert lab.wait(run["id"], timeout=60, poll_interval=0.05)["status"] == "completed"
    view = lab.campaign(run["id"])
    assert len(view["observations"]) == 2
    assert view["best"]["absorbance"] is not None


def test_runs_lists_filters_and_follows_the_next_cursor(
    lab: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = dose_workflow(lab)
    ids = [lab.start_run(name)["id"] for _ in range(3)]
    for run_id in ids:
        lab.wait(run_id, timeout=30, poll_interval=0.02)
    newest = lab.runs(limit=2)
    assert [r["id"] for r in newest] == ids[::-1][:2]
    assert all(r["status"] == "completed" for r in lab.runs(status="completed", limit=10))
    everything = lab.runs(limit=None)
    monkeypatch.setattr(labdeck.client.runs, "MAX_PAGE", 2)  # pages of two
    assert [r["id"] for r in lab.runs(limit=None)] == [r["id"] for r in everything]
    assert [r["id"] for r in lab.runs(limit=3)] == [r["id"] for r in everything[:3]]


def test_runs_works_with_servers_without_a_cursor() -> None:
    requests: list[httpx.URL] = []

    def old_server(request: httpx.Request) -> httpx.Response:
        requests.append(request.url)
        return httpx.Response(200, json=[{"id": "2"}, {"id": "1"}])

    def new_server(request: httpx.Request) -> httpx.Response:
        requests.append(request.url)
        cursor = request.url.params.get("cursor")
        page = {None: ["4", "3"], "3": ["2", "1"], "1": []}[cursor]
        headers = {"X-Next-Cursor": page[-1]} if page and page[-1] != "1" else {}
        return httpx.Response(200, json=[{"id": i} for i in page], headers=headers)

    with Client("http://lab", transport=httpx.MockTransport(old_server)) as old:
        assert [r["id"] for r in old.runs(limit=None, status=["failed", "paused"])] == ["2", "1"]
    assert requests[0].params.get_list("status") == ["failed", "paused"]
    requests.clear()
    with Client("http://lab", transport=httpx.MockTransport(new_server)) as new:
        assert [r["id"] for r in new.runs(limit=None, q="x")] == ["4", "3", "2", "1"]
    assert [url.params.get("cursor") for url in requests] == [None, "3"]
    assert all(url.params["q"] == "x" for url in requests)


# --- controls ----------------------------------------------------------------------------------


def test_pause_resume(lab: Client) -> None:
    run = lab.start_run(slow_workflow(lab, seconds=0.5), repeat=2)
    wait_for(lab, run["id"], "waiting")
    lab.pause(run["id"])
    assert wait_for(lab, run["id"], "paused")["status"] == "paused"
    assert "resume" in lab.run(run["id"])["actions"]
    lab.resume(run["id"])
    assert lab.wait(run["id"], timeout=30, poll_interval=0.02)["status"] == "completed"


def test_stop_pending_and_cancel(lab: Client) -> None:
    slow = slow_workflow(lab, seconds=0.5)
    run = lab.start_run(slow, repeat=5)
    wait_for(lab, run["id"], "waiting")
    lab.stop_pending(run["id"])
    stopped = lab.wait(run["id"], timeout=30, poll_interval=0.02)
    assert (stopped["status"], stopped["status_reason"]) == (
        "cancelled",
        "stopped after iteration 1 of 5",
    )
    other = lab.start_run(slow, repeat=5)
    wait_for(lab, other["id"], "waiting")
    lab.cancel(other["id"], "wrong vial", cleanup=True)
    cancelled = lab.wait(other["id"], timeout=30, poll_interval=0.02)
    assert (cancelled["status"], cancelled["status_reason"]) == ("cancelled", "wrong vial")


def test_retry_then_skip_a_failed_step(lab: Client) -> None:
    name = published(
        lab, "failing", [{"id": "prime", "kind": "call", "target": "broken_pump.prime"}]
    )
    run = lab.start_run(name)
    paused = wait_for(lab, run["id"], "paused")
    assert paused["prompt"]["error"]["code"] == "UNHANDLED_EXCEPTION"
    lab.retry(run["id"])
    deadline = time.monotonic() + 10
    while len([s for s in lab.steps(run["id"])["steps"] if s["path"] == "prime"]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    wait_for(lab, run["id"], "paused")
    lab.skip(run["id"])
    assert lab.wait(run["id"], timeout=30, poll_interval=0.02)["status"] == "completed"
    statuses = [s["status"] for s in lab.steps(run["id"])["steps"] if s["path"] == "prime"]
    assert statuses == ["failed", "failed", "skipped"]


def test_answer_an_input_and_continue_after_a_pause(lab: Client) -> None:
    ask = published(
        lab,
        "ask",
        [{"id": "ask", "kind": "input", "prompt": "How many mL?", "save": "ml", "type": "number"}],
        outputs=["ml"],
    )
    run = lab.start_run(ask)
    assert wait_for(lab, run["id"], "waiting")["prompt"]["text"] == "How many mL?"
    lab.answer(run["id"], 2.5)
    lab.wait(run["id"], timeout=30, poll_interval=0.02)
    assert lab.results(run["id"])[0]["ml"] == 2.5

    look = published(lab, "look", [{"id": "look", "kind": "pause", "message": "Check the vial"}])
    run = lab.start_run(look)
    assert wait_for(lab, run["id"], "waiting")["prompt"]["kind"] == "pause"
    lab.continue_run(run["id"])
    assert lab.wait(run["id"], timeout=30, poll_interval=0.02)["status"] == "completed"


def test_replay(lab: Client) -> None:
    name = dose_workflow(lab)
    first = lab.start_run(name, table=[{"amount_mg": 3}])
    lab.wait(first["id"], timeout=30, poll_interval=0.02)
    again = lab.replay(first["id"])
    assert again["replay_of"] == first["id"]
    assert again["trigger"]["kind"] == "replay"
    assert lab.wait(again["id"], timeout=30, poll_interval=0.02)["status"] == "completed"
    active = lab.replay(first["id"], version="active", mapping={"amount_mg": "amount_mg"})
    assert active["mode"] == {"table": [{"amount_mg": 3.0}]}


# --- queue and events --------------------------------------------------------------------------


def test_queue_pause_resume_and_reorder(lab: Client) -> None:
    name = dose_workflow(lab)
    assert lab.pause_queue()["paused"] is True
    a, b, c = (lab.start_run(name)["id"] for _ in range(3))
    queue = lab.queue()
    assert queue["paused"] is True
    assert [r["id"] for r in queue["pending"]] == [a, b, c]
    reordered = lab.reorder_queue([c, a, b])
    assert [r["id"] for r in reordered["pending"]] == [c, a, b]
    assert lab.cancel(b, "not needed")["status"] == "cancelled"
    assert lab.resume_queue()["paused"] is False
    for run_id in (c, a):
        assert lab.wait(run_id, timeout=30, poll_interval=0.02)["status"] == "completed"


def test_events_yield_a_runs_status_changes(lab: Client) -> None:
    name = dose_workflow(lab)
    lab.pause_queue()
    run = lab.start_run(name, repeat=2)
    events: list[Event] = []
    with lab.events(run["id"]) as stream:
        # The stream is subscribed when events() returns; a stuck run must not hang the test.
        watchdog = threading.Timer(30, stream.close)
        watchdog.start()
        lab.resume_queue()
        try:
            for event in stream:
                events.append(event)
                data = event["data"]
                if event["event"] == "run.status" and data["to_status"] == "completed":
                    break
        finally:
            watchdog.cancel()
    kinds = [event["event"] for event in events]
    assert kinds[0] == "run.status"
    assert {"run.status", "run.progress", "step.started", "step.finished"} <= set(kinds)
    assert all(event["data"]["run_id"] == run["id"] for event in events)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events if e["id"] is not None)


# --- errors ------------------------------------------------------------------------------------


def test_errors_carry_the_servers_code_status_and_detail(lab: Client) -> None:
    with pytest.raises(LabdeckClientError) as missing:
        lab.run("999999")
    assert (missing.value.status, missing.value.code) == (404, "NOT_FOUND")
    name = dose_workflow(lab)
    done = lab.start_run(name)
    lab.wait(done["id"], timeout=30, poll_interval=0.02)
    with pytest.raises(LabdeckClientError) as conflict:
        lab.resume(done["id"])
    assert (conflict.value.status, conflict.value.code) == (409, "INVALID_TRANSITION")
    assert conflict.value.detail["status"] == "completed"
    with pytest.raises(LabdeckClientError) as invalid:
        lab.start_run(name, table=[{"amount_mg": "lots"}])
    assert (invalid.value.status, invalid.value.code) == (422, "INVALID_INPUT")
    assert "rows[1].amount_mg" in {f["field"] for f in invalid.value.detail["fields"]}
    draft = lab.create_workflow(document(unique("draft"), DOSE_SCRIPT, parameters=[]))
    with pytest.raises(LabdeckClientError) as unpublished:
        lab.start_run(draft["name"])
    assert (unpublished.value.status, unpublished.value.code) == (409, "NOT_PUBLISHED")


def test_an_unreachable_server_is_a_retryable_connection_error() -> None:
    with Client("http://127.0.0.1:9", "token", timeout=2) as nowhere:
        with pytest.raises(LabdeckClientError) as caught:
            nowhere.runs()
        with pytest.raises(RemoteInstrumentError):
            nowhere.call("balance", "weigh")
        with pytest.raises(LabdeckClientError):
            nowhere.events()
    assert caught.value.code == "CONNECTION"
    assert caught.value.retryable is True
    assert caught.value.status is None
    assert "127.0.0.1:9" in caught.value.message
