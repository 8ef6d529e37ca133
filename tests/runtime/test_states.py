"""The run model: every from x to transition on SQLite and PostgreSQL, events, races."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from labdeck.errors import NotFound
from labdeck.runtime.states import (
    TERMINAL,
    TRANSITIONS,
    EventBus,
    InvalidTransition,
    RunStatus,
    StepStatus,
    change_run_status,
    is_allowed,
)
from labdeck.store.db import create_db_engine
from labdeck.store.migrate import upgrade
from labdeck.store.repo_runs import RunRepository
from labdeck.store.repo_workflows import WorkflowRepository

S = RunStatus
# DESIGN.md's table, written out again on purpose: the test must not derive it from the code.
ALLOWED = {
    (S.PENDING, S.RUNNING),
    (S.PENDING, S.PAUSED),
    (S.PENDING, S.CANCELLED),
    (S.RUNNING, S.WAITING),
    (S.RUNNING, S.PAUSED),
    (S.RUNNING, S.COMPLETED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.CANCELLED),
    (S.WAITING, S.RUNNING),
    (S.WAITING, S.PAUSED),
    (S.WAITING, S.CANCELLED),
    (S.PAUSED, S.RUNNING),
    (S.PAUSED, S.PENDING),
    (S.PAUSED, S.FAILED),
    (S.PAUSED, S.CANCELLED),
}
# How to reach each status from pending through allowed steps.
PATHS = {
    S.PENDING: [],
    S.RUNNING: [S.RUNNING],
    S.WAITING: [S.RUNNING, S.WAITING],
    S.PAUSED: [S.PAUSED],
    S.COMPLETED: [S.RUNNING, S.COMPLETED],
    S.FAILED: [S.RUNNING, S.FAILED],
    S.CANCELLED: [S.CANCELLED],
}
PAIRS = [(a, b) for a in RunStatus for b in RunStatus]


def test_the_table_is_exactly_the_design() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED
    assert {(a, b) for a, b in PAIRS if is_allowed(a, b)} == ALLOWED
    assert {status for status in RunStatus if not TRANSITIONS[status]} == TERMINAL
    assert set(StepStatus) == {StepStatus(s.value) for s in RunStatus} | {StepStatus.SKIPPED}


@pytest.fixture
def runs(database_url: str) -> Iterator[RunRepository]:
    engine: Engine = create_db_engine(database_url)
    upgrade(engine)
    yield RunRepository(engine)
    engine.dispose()


def new_run(runs: RunRepository) -> int:
    workflows = WorkflowRepository(runs._engine)
    name = f"wf-{len(workflows.search()) + 1}"
    workflow = workflows.create(
        draft={"format": "labdeck.workflow/1", "name": name}, deck_name="bench", user="olga"
    )
    return runs.create(
        name="a run",
        workflow_id=workflow.id,
        version=1,
        trigger={"kind": "manual", "by": "olga"},
        mode={"repeat": 1},
        options={},
        created_by="olga",
    ).id


def run_in(runs: RunRepository, status: RunStatus) -> int:
    run_id = new_run(runs)
    for step in PATHS[status]:
        change_run_status(runs, None, run_id, step)
    assert runs.get(run_id).status == status  # type: ignore[union-attr]
    return run_id


def test_every_transition_on_both_databases(runs: RunRepository) -> None:
    """Prefect style: each of the 49 from x to pairs, allowed or rejected as designed."""
    for current, target in PAIRS:
        run_id = run_in(runs, current)
        events_before = len(runs.events(run_id))
        if (current, target) in ALLOWED:
            event = change_run_status(runs, None, run_id, target, reason="test", by="olga")
            assert (event["from_status"], event["to_status"]) == (current, target)
            assert runs.get(run_id).status == target  # type: ignore[union-attr]
            assert len(runs.events(run_id)) == events_before + 1
        else:
            with pytest.raises(InvalidTransition) as refused:
                change_run_status(runs, None, run_id, target)
            assert refused.value.status_code == 409
            assert refused.value.code == "INVALID_TRANSITION"
            assert refused.value.detail["status"] == current.value
            assert runs.get(run_id).status == current  # type: ignore[union-attr]
            assert len(runs.events(run_id)) == events_before


def test_terminal_statuses_are_final(runs: RunRepository) -> None:
    for terminal in TERMINAL:
        run_id = run_in(runs, terminal)
        for target in RunStatus:
            with pytest.raises(InvalidTransition, match="final"):
                change_run_status(runs, None, run_id, target)


def test_expected_status_guards_a_stale_request(runs: RunRepository) -> None:
    run_id = run_in(runs, S.RUNNING)
    with pytest.raises(InvalidTransition) as refused:
        change_run_status(runs, None, run_id, S.RUNNING, expected=S.PAUSED)
    assert refused.value.detail["status"] == "running"
    change_run_status(runs, None, run_id, S.PAUSED, expected=S.RUNNING)


def test_start_and_end_are_stamped_once(runs: RunRepository) -> None:
    run_id = new_run(runs)
    change_run_status(runs, None, run_id, S.RUNNING)
    started = runs.get(run_id).started_at  # type: ignore[union-attr]
    assert started is not None
    change_run_status(runs, None, run_id, S.PAUSED)
    change_run_status(runs, None, run_id, S.RUNNING)
    assert runs.get(run_id).started_at == started  # type: ignore[union-attr]
    assert runs.get(run_id).ended_at is None  # type: ignore[union-attr]
    change_run_status(runs, None, run_id, S.COMPLETED)
    record = runs.get(run_id)
    assert record is not None
    assert record.ended_at is not None
    assert record.ended_at >= started


def test_events_are_written_and_published_only_for_changes_that_happened(
    runs: RunRepository,
) -> None:
    bus = EventBus()
    seen: list[tuple[str, str]] = []
    unsubscribe = bus.subscribe(lambda e: seen.append((e["from_status"], e["to_status"])))
    run_id = new_run(runs)
    change_run_status(runs, bus, run_id, S.RUNNING, by="olga")
    with pytest.raises(InvalidTransition):
        change_run_status(runs, bus, run_id, S.PENDING)
    change_run_status(runs, bus, run_id, S.CANCELLED, reason="Cancelled by user", by="olga")
    unsubscribe()
    change_run_status(runs, bus, new_run(runs), S.RUNNING)
    assert seen == [("pending", "running"), ("running", "cancelled")]
    kinds = [(e["kind"], e["to_status"], e["reason"]) for e in runs.events(run_id)]
    assert kinds == [
        ("run.created", "pending", None),
        ("run.status", "running", None),
        ("run.status", "cancelled", "Cancelled by user"),
    ]
    assert runs.get(run_id).status_reason == "Cancelled by user"  # type: ignore[union-attr]


def test_an_unknown_run_is_404(runs: RunRepository) -> None:
    with pytest.raises(NotFound):
        change_run_status(runs, None, 999_999, S.RUNNING)


def test_two_writers_racing_from_running_one_wins(runs: RunRepository) -> None:
    """Completion and cancellation arrive together: exactly one happens, the other is 409."""
    for _ in range(10):
        run_id = run_in(runs, S.RUNNING)
        outcomes: list[str] = []
        barrier = threading.Barrier(2)

        def attempt(target: RunStatus, run_id: int = run_id) -> None:
            barrier.wait()
            try:
                change_run_status(runs, None, run_id, target)
                outcomes.append(f"won {target}")
            except InvalidTransition:
                outcomes.append("refused")

        threads = [
            threading.Thread(target=attempt, args=(S.COMPLETED,)),
            threading.Thread(target=attempt, args=(S.CANCELLED,)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert sorted(outcome.split()[0] for outcome in outcomes) == ["refused", "won"], outcomes
        final = runs.get(run_id)
        assert final is not None
        assert final.status in (S.COMPLETED, S.CANCELLED)
        assert (
            len([e for e in runs.events(run_id) if e["to_status"] in ("completed", "cancelled")])
            == 1
        )
