"""The optimizers a campaign can name, and which of them this server has installed.

Owns `OPTIMIZERS` (name → factory), `DEFAULT_OPTIMIZER`, `available_optimizers()` (what
`GET /api/optimizers` lists) and `get_factory`. Listing is cheap: a factory checks its
packages with `importlib.util.find_spec` and imports them only in `create` (Ax, BayBE and
PyTorch take seconds to import).
"""

from __future__ import annotations

from collections.abc import Sequence

from labdeck.optimize.ax_adapter import AxFactory
from labdeck.optimize.base import OptimizerFactory
from labdeck.optimize.baybe_adapter import BayBEFactory
from labdeck.optimize.optuna_adapter import OptunaFactory

DEFAULT_OPTIMIZER = "optuna"
BO_EXTRA = "pip install 'labdeck[bo]'"

OPTIMIZERS: dict[str, OptimizerFactory] = {
    factory.name: factory for factory in (OptunaFactory(), AxFactory(), BayBEFactory())
}


class UnknownOptimizer(ValueError):
    """A campaign names an optimizer labdeck does not have."""

    def __init__(self, name: str, available: Sequence[str]) -> None:
        self.name = name
        self.available = list(available)
        installed = ", ".join(self.available) or "none"
        message = f"there is no optimizer named {name!r}; installed here: {installed}"
        if any(not OPTIMIZERS[extra].available() for extra in ("ax", "baybe")):
            message += f" (Ax and BayBE come with {BO_EXTRA})"
        super().__init__(message)


def available_optimizers() -> list[OptimizerFactory]:
    """The optimizers whose packages are installed, the default first."""
    return [factory for factory in OPTIMIZERS.values() if factory.available()]


def get_factory(name: str) -> OptimizerFactory:
    """The factory named `name`, installed or not (`available()` says which)."""
    try:
        return OPTIMIZERS[name]
    except KeyError:
        names = [factory.name for factory in available_optimizers()]
        raise UnknownOptimizer(name, names) from None
