"""The service container a running server holds, and how it is built.

`build_services` prepares the data dir and secret key, opens the database, applies
migrations, bootstraps the first admin, reconciles calls a crash left running, records the
deck snapshot, and wires the executor and direct control. Routers and pages reach services
only through this container.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from labdeck.auth.service import AuthService
from labdeck.deck.bindings import Deck
from labdeck.deck.control import DirectControl
from labdeck.deck.executor import DeckExecutor
from labdeck.errors import StructuredError
from labdeck.runtime.campaign_service import CampaignService
from labdeck.runtime.notify import Handler, Notifier
from labdeck.runtime.queue import RunQueue
from labdeck.runtime.reconcile import reconcile_runs
from labdeck.runtime.replay import Replayer
from labdeck.runtime.runner import Runner
from labdeck.runtime.service import RunService
from labdeck.runtime.states import EventBus
from labdeck.runtime.triggers import Triggers, TriggerStore
from labdeck.settings import Settings
from labdeck.store.db import create_db_engine
from labdeck.store.migrate import upgrade
from labdeck.store.repo_calls import CallRepository
from labdeck.store.repo_deck import DeckSnapshotRepository
from labdeck.store.repo_run_records import RunRecords
from labdeck.store.repo_runs import RunRepository
from labdeck.store.repo_users import TokenRepository, UserRepository
from labdeck.store.repo_workflows import WorkflowRepository
from labdeck.workflow.library import WorkflowLibrary
from labdeck.workflow.model import WorkflowDocument

if TYPE_CHECKING:
    from labdeck.plugins import Plugin

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    engine: Engine
    auth: AuthService
    deck: Deck
    executor: DeckExecutor
    control: DirectControl
    calls: CallRepository
    workflows: WorkflowLibrary
    run_service: RunService
    bus: EventBus
    replayer: Replayer
    triggers: Triggers
    notifier: Notifier
    campaigns: CampaignService
    generated_admin_password: str | None = None
    startup_notes: list[str] = field(default_factory=list)
    plugins: list[Plugin] = field(default_factory=list)  # started by `server.prepare`

    def close(self) -> None:
        self.triggers.stop()
        self.notifier.close()
        if self.run_service.queue is not None:
            self.run_service.queue.close()
        self.executor.close()
        self.calls.close()
        self.run_service.records.close()
        self.engine.dispose()


def build_services(settings: Settings, deck: Deck, notify: Sequence[Handler] = ()) -> Services:
    settings.prepare_data_dir()
    secret_key = settings.prepare_secret_key()
    engine = create_db_engine(settings.resolved_database_url())
    upgrade(engine)

    auth = AuthService(UserRepository(engine), TokenRepository(engine), secret_key)
    generated = auth.bootstrap_admin(settings.admin_password)

    calls = CallRepository(engine)
    interrupted = calls.fail_unfinished(
        error=StructuredError(
            code="SERVER_RESTART",
            message="the server stopped while this call was running; its outcome is unknown",
            retryable=True,
        ).model_dump(mode="json"),
        ended_at=datetime.now(UTC),
    )
    notes = []
    if interrupted:
        notes.append(f"{interrupted} direct call(s) were running when the server stopped")
    snapshots = DeckSnapshotRepository(engine)
    previous = snapshots.fingerprints(deck.name)
    snapshots.record(deck.name, deck.fingerprint, deck.schema.model_dump(mode="json"))
    if previous and previous[0] != deck.fingerprint:
        notes.append(
            f"the deck's interface changed since the last start "
            f"(fingerprint {previous[0]} -> {deck.fingerprint})"
        )

    executor = DeckExecutor()
    control = DirectControl(deck, executor, calls, settings.call_lock_wait_s)
    workflows = WorkflowLibrary(WorkflowRepository(engine), deck)
    run_service = _build_runtime(
        engine, deck, executor, workflows, notes, settings.data_dir / "runs"
    )
    return Services(
        settings=settings,
        engine=engine,
        auth=auth,
        deck=deck,
        executor=executor,
        control=control,
        calls=calls,
        workflows=workflows,
        run_service=run_service,
        bus=run_service.bus,
        replayer=Replayer(run_service, run_service.runs, workflows),
        notifier=Notifier(run_service.bus, notify, settings.notify_webhook_url),
        triggers=Triggers(
            TriggerStore(settings.data_dir / "triggers.json"), run_service, workflows
        ),
        campaigns=CampaignService(run_service, workflows),
        generated_admin_password=generated,
        startup_notes=notes,
    )


def _build_runtime(
    engine: Engine,
    deck: Deck,
    executor: DeckExecutor,
    workflows: WorkflowLibrary,
    notes: list[str],
    log_dir: Path,
) -> RunService:
    """Reconcile what a crash left, then start the queue over the runner."""
    bus = EventBus()
    runs = RunRepository(engine)
    records = RunRecords(engine)
    notes.extend(reconcile_runs(runs, records, bus, deck.name))
    service = RunService(
        deck=deck, runs=runs, records=records, library=workflows, bus=bus, log_dir=log_dir
    )

    def document(name: str, version: int | None) -> WorkflowDocument:
        return workflows.document(name, version)

    runner = Runner(deck, executor, runs, records, bus, document, service.safety_pause)
    service.queue = RunQueue(
        deck_name=deck.name,
        runs=runs,
        records=records,
        runner=runner,
        executor=executor,
        bus=bus,
        prepare=service.prepare,
        on_finished=service.after_run,
        log_dir=log_dir,
    )
    return service
