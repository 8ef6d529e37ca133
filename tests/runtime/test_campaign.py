"""Campaign runs: submit-time checks, the optimizer-driven source, early stop, repeats, replay."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from labdeck.errors import InvalidInput
from labdeck.optimize.base import Observation
from labdeck.runtime.campaign import CampaignSource, continued_campaign, renamed_campaign
from labdeck.runtime.campaign_check import check_campaign
from labdeck.runtime.modes import Iteration, build_source
from labdeck.runtime.run_types import RunFailed
from labdeck.store.repo_runs import RunRecord
from labdeck.workflow.model import WorkflowDocument
from tests.optimize.fakes import FakeFactory, install_fake

SCHEMAS: dict[str, dict[str, Any]] = {
    "amount_mg": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
    "volume_ml": {"type": "number", "exclusiveMinimum": 0, "maximum": 20},
    "solvent": {
        "title": "Solvent",
        "type": "string",
        "enum": ["water", "ethanol"],
        "x-enum-names": ["WATER", "ETHANOL"],
    },
    "stir_rpm": {"type": "integer", "minimum": 0, "maximum": 1500},
    "label": {"type": "string"},
}
DOCUMENT = WorkflowDocument.model_validate(
    {
        "format": "labdeck.workflow/1",
        "name": "dye",
        "parameters": [
            {"name": "amount_mg", "default": 5.0},
            {"name": "volume_ml", "default": 2.0},
            {"name": "solvent", "default": "WATER"},
            {"name": "stir_rpm", "default": 400},
            {"name": "label", "default": "run"},
        ],
        "outputs": ["absorbance", "peak_nm"],
    }
)
CAMPAIGN: dict[str, Any] = {
    "optimizer": "fake",
    "parameters": [
        {"name": "amount_mg", "type": "float", "low": 1, "high": 20},
        {"name": "solvent", "type": "choice", "choices": ["WATER", "ethanol"]},
        {"name": "stir_rpm", "type": "fixed", "value": "600"},
    ],
    "objectives": [{"name": "absorbance"}],
    "budget": 5,
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeFactory:
    return install_fake(monkeypatch)


def campaign(**changes: Any) -> dict[str, Any]:
    found = copy.deepcopy(CAMPAIGN)
    found.update(changes)
    return found


def problems(value: Any, document: WorkflowDocument = DOCUMENT, batch_size: int = 1) -> Any:
    with pytest.raises(InvalidInput) as error:
        check_campaign(value, document, SCHEMAS, batch_size)
    return error.value


def fields(value: Any, **kwargs: Any) -> list[str]:
    return [f["field"] for f in problems(value, **kwargs).detail["fields"]]


def drain_with(source: CampaignSource, outputs: Any) -> list[Iteration]:
    """Run the source to its end; `outputs(sample_params)` is what each experiment measured."""
    iterations = []
    while (iteration := source.next_iteration()) is not None:
        iterations.append(iteration)
        source.report(iteration, [outputs(s.params) for s in iteration.samples])
    return iterations


# --- checks at submit time -----------------------------------------------------------------


@pytest.mark.usefixtures("fake")
def test_a_good_campaign_is_stored_converted() -> None:
    checked = check_campaign(campaign(), DOCUMENT, SCHEMAS)
    stored = checked.stored["campaign"]
    assert stored["parameters"][1]["choices"] == ["water", "ethanol"]  # Enum names → values
    assert stored["parameters"][2]["value"] == 600
    assert "notes" not in stored
    assert checked.defaults == {"volume_ml": 2.0, "label": "run"}


@pytest.mark.usefixtures("fake")
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"parameters": [{"name": "colour", "type": "fixed", "value": 1}]}, "parameters[0].name"),
        (
            {"parameters": [{"name": "amount_mg", "type": "float", "low": 0, "high": 20}]},
            "parameters[0].low",
        ),
        (
            {"parameters": [{"name": "amount_mg", "type": "float", "low": 1, "high": 200}]},
            "parameters[0].high",
        ),
        (
            {"parameters": [{"name": "amount_mg", "type": "float", "low": 5, "high": 1}]},
            "parameters[0].high",
        ),
        (
            {"parameters": [{"name": "amount_mg", "type": "float", "low": 1}]},
            "parameters[0].low",
        ),
        (
            {"parameters": [{"name": "stir_rpm", "type": "float", "low": 0, "high": 100}]},
            "parameters[0].type",
        ),
        (
            {"parameters": [{"name": "solvent", "type": "choice", "choices": ["water", "oil"]}]},
            "parameters[0].choices[1]",
        ),
        (
            {"parameters": [{"name": "solvent", "type": "choice", "choices": ["water", "WATER"]}]},
            "parameters[0].choices[1]",
        ),
        (
            {"parameters": [{"name": "solvent", "type": "choice", "choices": []}]},
            "parameters[0].choices",
        ),
        (
            {"parameters": [{"name": "stir_rpm", "type": "fixed", "value": "fast"}]},
            "parameters[0].value",
        ),
        (
            {
                "parameters": [
                    {"name": "amount_mg", "type": "float", "low": 1, "high": 2},
                    {"name": "amount_mg", "type": "float", "low": 1, "high": 3},
                ]
            },
            "parameters",
        ),
        ({"parameters": [{"name": "stir_rpm", "type": "fixed", "value": 5}]}, "parameters"),
        ({"objectives": [{"name": "colour"}]}, "objectives[0].name"),
        ({"objectives": [{"name": "absorbance", "direction": "up"}]}, "objectives[0].direction"),
        ({"constraints": ["amount_mg + solvent <= 3"]}, "constraints[0]"),
        ({"constraints": ["amount_mg <= 3"]}, "constraints"),  # the fake cannot
        ({"settings": {"refuse": "initial_random"}}, "initial_random"),
        ({"optimizer": "magic"}, "optimizer"),
        ({"budget": 0}, "budget"),
        ({"budget": "lots"}, "budget"),
        ({"sampler": "tpe"}, "sampler"),
        ({"history": [{}, 5]}, "history[2]"),  # rows are counted from 1, as in tables
    ],
)
def test_a_bad_campaign_is_refused_pointing_at_its_field(
    change: dict[str, Any], field: str
) -> None:
    assert fields(campaign(**change)) == [f"mode.campaign.{field}"]


@pytest.mark.usefixtures("fake")
def test_unknown_optimizers_are_named_and_not_a_campaign_is_refused() -> None:
    error = problems(campaign(optimizer="magic"))
    assert "magic" in error.message
    assert fields([1, 2]) == ["mode.campaign"]


@pytest.mark.usefixtures("fake")
def test_a_parameter_left_out_needs_a_default() -> None:
    document = DOCUMENT.model_copy(
        update={
            "parameters": [
                *DOCUMENT.parameters[:4],
                DOCUMENT.parameters[4].model_copy(update={"default": None}),
            ]
        }
    )
    error = problems(campaign(), document=document)
    assert [f["field"] for f in error.detail["fields"]] == ["mode.campaign.parameters"]
    assert "label has no default" in error.message


@pytest.mark.usefixtures("fake")
def test_batches_need_an_optimizer_that_suggests_several(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.optimize import fakes

    capabilities = fakes.FakeFactory().capabilities().model_copy(update={"batch": False})
    monkeypatch.setattr(fakes.FakeFactory, "capabilities", lambda _self: capabilities)
    assert fields(campaign(), batch_size=2) == ["batch_size"]
    check_campaign(campaign(), DOCUMENT, SCHEMAS, 1)


@pytest.mark.usefixtures("fake")
def test_history_rows_are_converted_and_checked() -> None:
    history = [
        {"amount_mg": "2.5", "solvent": "ETHANOL", "absorbance": "0.4", "extra": 1},
        {"amount_mg": 3, "solvent": "water", "stir_rpm": 600, "absorbance": None},
        {"amount_mg": 4, "solvent": "water", "absorbance": ""},
    ]
    checked = check_campaign(campaign(history=history), DOCUMENT, SCHEMAS)
    assert checked.config.history == [
        {"amount_mg": 2.5, "solvent": "ethanol", "stir_rpm": 600, "absorbance": 0.4},
        {"amount_mg": 3, "solvent": "water", "stir_rpm": 600, "absorbance": None},
        {"amount_mg": 4, "solvent": "water", "stir_rpm": 600, "absorbance": None},
    ]
    assert [o.failed for o in checked.history] == [False, True, True]
    assert checked.history[0] == Observation(
        params={"amount_mg": 2.5, "solvent": "ethanol", "stir_rpm": 600},
        values={"absorbance": 0.4},
    )


@pytest.mark.usefixtures("fake")
def test_history_rows_missing_columns_are_named_with_their_rows() -> None:
    history = [
        {"amount_mg": 2, "solvent": "water", "absorbance": 1},
        {"solvent": "water"},
        {"amount_mg": 2, "absorbance": 1},
    ]
    error = problems(campaign(history=history))
    assert "amount_mg in row 2" in error.message
    assert "absorbance in row 2" in error.message
    assert "solvent in row 3" in error.message
    assert {f["field"] for f in error.detail["fields"]} == {
        "mode.campaign.history[2].amount_mg",
        "mode.campaign.history[2].absorbance",
        "mode.campaign.history[3].solvent",
    }


@pytest.mark.usefixtures("fake")
@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ({"amount_mg": "lots"}, "amount_mg", "row 2, amount_mg"),
        ({"amount_mg": 50}, "amount_mg", "outside the campaign's range 1..20"),
        ({"solvent": "oil"}, "solvent", "row 2, solvent"),
        ({"stir_rpm": 100}, "stir_rpm", "fixed value 600"),
        ({"absorbance": "high"}, "absorbance", "not a number"),
        ({"absorbance": True}, "absorbance", "not a number"),
    ],
)
def test_history_cells_that_do_not_fit_are_refused_with_their_row(
    row: dict[str, Any], field: str, words: str
) -> None:
    good = {"amount_mg": 2, "solvent": "water", "absorbance": 1}
    error = problems(campaign(history=[good, {**good, **row}]))
    (problem,) = error.detail["fields"]
    assert problem["field"] == f"mode.campaign.history[2].{field}"
    assert words in problem["message"]


# --- the source ----------------------------------------------------------------------------------


def test_build_source_makes_a_campaign_source(fake: FakeFactory) -> None:
    source = build_source({"campaign": campaign()}, DOCUMENT, SCHEMAS, 2)
    assert isinstance(source, CampaignSource)
    assert source.total == 3
    assert source.stored_mode["campaign"]["budget"] == 5


def test_iterations_ask_for_the_budget_in_batches_with_typed_full_parameters(
    fake: FakeFactory,
) -> None:
    fake.script = [
        {"amount_mg": 2.0 + i, "solvent": "ethanol", "stir_rpm": 600.0} for i in range(5)
    ]
    source = build_source({"campaign": campaign()}, DOCUMENT, SCHEMAS, 2)
    iterations = drain_with(source, lambda params: {"absorbance": params["amount_mg"] / 10})
    assert [len(it.samples) for it in iterations] == [2, 2, 1]
    assert [it.number for it in iterations] == [1, 2, 3]
    asked = [len(points) for kind, points in fake.last.events if kind == "suggest"]
    assert asked == [2, 2, 1]
    first = iterations[0].samples[0]
    assert first.index == 0
    assert first.params == {
        "amount_mg": 2.0,
        "volume_ml": 2.0,
        "solvent": "ethanol",
        "stir_rpm": 600,
        "label": "run",
    }
    assert isinstance(first.params["stir_rpm"], int)  # converted to the argument's type
    told = fake.last.observed
    assert [o.values["absorbance"] for o in told] == pytest.approx([0.2, 0.3, 0.4, 0.5, 0.6])
    # The optimizer is told its own points back, so it can match its pending suggestions.
    assert told[0].params == {"amount_mg": 2.0, "solvent": "ethanol", "stir_rpm": 600.0}
    assert source.next_iteration() is None


@pytest.mark.parametrize(
    "measured",
    [None, math.nan, math.inf, "0.5", True, [1]],
)
def test_an_objective_that_is_not_a_finite_number_is_a_failed_experiment(
    fake: FakeFactory, measured: Any
) -> None:
    source = build_source({"campaign": campaign(budget=1)}, DOCUMENT, SCHEMAS, 1)
    iteration = source.next_iteration()
    assert iteration is not None
    source.report(iteration, [{"absorbance": measured, "peak_nm": 450.0}])
    (told,) = fake.last.observed
    assert told.failed
    assert told.values == {}


def test_a_missing_output_is_a_failed_experiment_and_others_still_count(fake: FakeFactory) -> None:
    two = campaign(budget=2, objectives=[{"name": "absorbance"}, {"name": "peak_nm"}])
    source = build_source({"campaign": two}, DOCUMENT, SCHEMAS, 2)
    iteration = source.next_iteration()
    assert iteration is not None
    source.report(iteration, [{"absorbance": 0.5}, {"absorbance": 0.2, "peak_nm": 451}])
    first, second = fake.last.observed
    assert (first.failed, first.values) == (True, {"absorbance": 0.5})
    assert (second.failed, second.values) == (False, {"absorbance": 0.2, "peak_nm": 451.0})


def test_reaching_every_threshold_stops_the_campaign_early(fake: FakeFactory) -> None:
    notes: list[tuple[str, str]] = []
    objectives = [
        {"name": "absorbance", "threshold": 0.5},
        {"name": "peak_nm", "direction": "minimize", "threshold": 452},
        {"name": "peak_nm_too", "direction": "maximize"},
    ]
    document = DOCUMENT.model_copy(update={"outputs": ["absorbance", "peak_nm", "peak_nm_too"]})
    source = build_source(
        {"campaign": campaign(budget=10, objectives=objectives)}, document, SCHEMAS, 1
    )
    assert isinstance(source, CampaignSource)
    source.note = lambda kind, message: notes.append((kind, message))
    readings = iter([(0.6, 460), (0.4, 450), (0.55, 451), (0.9, 440)])

    def measure(_params: dict[str, Any]) -> dict[str, Any]:
        absorbance, peak = next(readings)
        return {"absorbance": absorbance, "peak_nm": peak, "peak_nm_too": 1}

    iterations = drain_with(source, measure)
    assert len(iterations) == 3  # the third reaches both thresholds
    assert source.stopped_reason is not None
    assert "absorbance 0.55 reached its threshold 0.5" in source.stopped_reason
    assert "peak_nm 451 reached its threshold 452" in source.stopped_reason
    assert "after 3 of 10 experiments" in source.stopped_reason
    assert notes == [("stopped", source.stopped_reason)]


def test_without_thresholds_a_campaign_spends_its_budget(fake: FakeFactory) -> None:
    source = build_source({"campaign": campaign(budget=4)}, DOCUMENT, SCHEMAS, 1)
    assert len(drain_with(source, lambda _p: {"absorbance": 1e9})) == 4
    assert source.stopped_reason is None


def test_stop_pending_ends_after_the_current_iteration(fake: FakeFactory) -> None:
    source = build_source({"campaign": campaign(budget=4)}, DOCUMENT, SCHEMAS, 1)
    assert source.next_iteration() is not None
    source.stop()
    assert source.next_iteration() is None
    assert source.total == 4


def test_history_is_told_before_the_first_suggestion_and_not_suggested_again(
    fake: FakeFactory,
) -> None:
    old = {"amount_mg": 3.0, "solvent": "water", "stir_rpm": 600}
    fake.script = [old, {**old, "amount_mg": 4.0}]
    history = [{**old, "absorbance": 0.3}]
    source = build_source({"campaign": campaign(budget=1, history=history)}, DOCUMENT, SCHEMAS, 1)
    (iteration,) = drain_with(source, lambda _p: {"absorbance": 0.1})
    assert iteration.samples[0].params["amount_mg"] == 4.0  # the history point was asked again
    kinds = [kind for kind, _ in fake.last.events]
    assert kinds == ["observe", "suggest", "suggest", "observe"]
    assert fake.last.events[0][1][0].params == old


def test_a_point_the_optimizer_insists_on_is_run_again_with_a_note(fake: FakeFactory) -> None:
    old = {"amount_mg": 3.0, "solvent": "water", "stir_rpm": 600}
    fake.script = [old] * 10
    notes: list[tuple[str, str]] = []
    source = build_source(
        {"campaign": campaign(budget=1, history=[{**old, "absorbance": 0.3}])},
        DOCUMENT,
        SCHEMAS,
        1,
    )
    assert isinstance(source, CampaignSource)
    source.note = lambda kind, message: notes.append((kind, message))
    (iteration,) = drain_with(source, lambda _p: {"absorbance": 0.1})
    assert iteration.samples[0].params["amount_mg"] == 3.0
    assert len([kind for kind, _ in fake.last.events if kind == "suggest"]) == 4
    ((kind, message),) = notes
    assert kind == "repeat"
    assert '"amount_mg": 3.0' in message
    assert "again" in message


def test_an_optimizer_error_fails_the_run_like_a_failed_step(fake: FakeFactory) -> None:
    source = build_source({"campaign": campaign(budget=2)}, DOCUMENT, SCHEMAS, 1)
    source.next_iteration()

    def broken(_n: int) -> list[dict[str, Any]]:
        raise RuntimeError("out of ideas")

    fake.last.suggest = broken  # type: ignore[method-assign]
    with pytest.raises(RunFailed) as failed:
        source.next_iteration()
    assert failed.value.error.code == "OPTIMIZER_ERROR"
    assert "out of ideas" in failed.value.error.message


# --- replay ------------------------------------------------------------------------------------


def record(status: str, mode: dict[str, Any]) -> RunRecord:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return RunRecord(
        id=1,
        name="r",
        workflow_id=1,
        version=1,
        status=status,
        status_reason=None,
        trigger={},
        mode=mode,
        options={},
        queue_position=0,
        replay_of=None,
        error=None,
        progress={},
        created_at=now,
        started_at=now,
        ended_at=now,
        created_by=None,
    )


SAMPLES = [
    {
        "iteration": 1,
        "sample": 0,
        "params": {"amount_mg": 2.0, "solvent": "water", "stir_rpm": 600, "label": "run"},
        "outputs": {"absorbance": 0.3, "peak_nm": 450},
    },
    {
        "iteration": 2,
        "sample": 1,
        "params": {"amount_mg": 9.0, "solvent": "ethanol", "stir_rpm": 600, "label": "run"},
        "outputs": {"absorbance": None, "peak_nm": 450},
    },
]


@pytest.mark.usefixtures("fake")
@pytest.mark.parametrize(("status", "budget"), [("failed", 3), ("cancelled", 3), ("completed", 5)])
def test_a_replay_continues_an_unfinished_campaign_and_restarts_a_finished_one(
    status: str, budget: int
) -> None:
    history = [{"amount_mg": 1.0, "solvent": "water", "stir_rpm": 600, "absorbance": 0.1}]
    stored = check_campaign(campaign(history=history), DOCUMENT, SCHEMAS).stored
    mode = continued_campaign(record(status, stored), SAMPLES)
    config = mode["campaign"]
    assert config["budget"] == budget
    assert config["history"] == [
        history[0],
        {"amount_mg": 2.0, "solvent": "water", "stir_rpm": 600, "absorbance": 0.3},
        {"amount_mg": 9.0, "solvent": "ethanol", "stir_rpm": 600, "absorbance": None},
    ]
    checked = check_campaign(config, DOCUMENT, SCHEMAS)
    assert [o.failed for o in checked.history] == [False, False, True]


def test_a_failed_run_that_spent_its_budget_is_replayed_with_the_full_budget() -> None:
    stored = {"campaign": {**campaign(budget=2), "history": []}}
    assert continued_campaign(record("failed", stored), SAMPLES)["campaign"]["budget"] == 2


def test_renamed_parameters_follow_a_mapping() -> None:
    mode = {
        "campaign": campaign(
            constraints=["amount_mg + 2*amount_mg_extra <= 3"],
            history=[{"amount_mg": 1, "solvent": "water", "absorbance": 1}],
        )
    }
    renamed = renamed_campaign(mode, {"amount_mg": "dose_mg", "solvent": None})["campaign"]
    assert [p["name"] for p in renamed["parameters"]] == ["dose_mg", "stir_rpm"]
    assert renamed["history"] == [{"dose_mg": 1, "absorbance": 1}]
    assert renamed["constraints"] == ["dose_mg + 2*amount_mg_extra <= 3"]
    assert renamed_campaign(mode, {}) == mode
