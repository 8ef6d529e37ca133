"""Running workflows: the run model (statuses and transitions), queue, runner, events."""
