"""The probe battery: bad input at every public entry point, one table.

A *probe* calls one public entry point the way a user might get it wrong (a list
where an array is expected, ``None``, a negative tolerance, a file that is not
there, ...) and states what must happen: either a clear exception whose message
names the argument (``raises`` + ``match``) or a correct result (``check``).

Each module of this package holds the probes of one family in a list called
``PROBES``; :mod:`test_probes` collects them all, runs each, and checks that
every entry point listed by :func:`entry_points` has at least one probe, so that a
new entry point gets its probes when it is added.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from typing import Any, Callable

__all__ = ["Probe", "all_probes", "entry_points", "EXEMPT"]


@dataclasses.dataclass(frozen=True)
class Probe:
    """One bad-input call and what must come of it.

    Attributes
    ----------
    entry : str
        The public entry point probed, as :func:`entry_points` names it
        (``"rso_ref.optim.SGD.init"``, ``"rso-ref compare"``).
    case : str
        A short name for what is wrong (``"params None"``); unique per entry.
    call : callable
        ``call(tmp_path)``; makes the call and returns its result.
    raises : exception type or tuple, optional
        The exception the call must raise.
    match : str, optional
        A regular expression the exception's message must contain (``re.search``);
        it should name the argument at fault.
    check : callable, optional
        ``check(result)``, for probes whose correct outcome is a result; it raises
        ``AssertionError`` when the result is wrong.
    """

    entry: str
    case: str
    call: Callable[[Any], Any]
    raises: type[BaseException] | tuple[type[BaseException], ...] | None = None
    match: str | None = None
    check: Callable[[Any], None] | None = None

    def __post_init__(self) -> None:
        if (self.raises is None) == (self.check is None):
            raise ValueError(f"probe {self.entry}: {self.case}: give exactly one of raises, check")
        if self.raises is not None and not self.match:
            raise ValueError(f"probe {self.entry}: {self.case}: an expected error needs a match")

    @property
    def id(self) -> str:
        return f"{self.entry}: {self.case}"


def all_probes() -> list[Probe]:
    """Every probe of every module of this package, in module order."""
    probes: list[Probe] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        probes.extend(module.PROBES)
    return probes


# Public names that take no user input worth probing, with the reason.
EXEMPT: dict[str, str] = {
    "rso_ref.optim.Optimizer": "abstract protocol; each concrete optimizer is probed",
    "rso_ref.optim.Needs": "an enum",
    "rso_ref.optim.StepInfo": "a record the optimizers return",
    "rso_ref.RSOStepResult": "a record rso_step returns",
    "rso_ref.testing.CheckReport": "a record check_port returns",
    "rso_ref.testing.MLPCase": "a record mlp_cases draws",
    "rso_ref.train.TrainResult": "a record train returns",
    "rso_ref.checkpoint.Checkpoint": "a record load returns",
    "rso_ref.checkpoint.CheckpointError": "an exception type",
    "rso_ref.pytree.TreeDef": "a record flatten returns",
}

# Modules whose public callables are entry points; classes contribute their
# constructor and these methods when they have them.
_MODULES = ("rso_ref.optim", "rso_ref", "rso_ref.train", "rso_ref.checkpoint",
            "rso_ref.testing", "rso_ref.backend", "rso_ref.pytree")
_METHODS = ("init", "step", "value_and_grad", "loss")
_MODELS = ("MLP", "ConvNet1D", "ConvNet2D", "ResNet")


def entry_points() -> set[str]:
    """The public entry points the battery must cover.

    The callables in ``__all__`` of the user-facing modules (the top level,
    ``optim``, ``train``, ``checkpoint``, ``testing``, ``backend``, ``pytree``), the models of
    ``rso_ref.nn`` (their functional layers are building blocks the models' probes
    reach), the data loaders of ``rso_ref.data.LOADERS`` and ``read_idx``,
    ``rso_ref.golden.verify`` and every ``rso-ref`` subcommand. A class contributes
    its constructor and its ``init``/``step``/``value_and_grad``/``loss`` methods.
    """
    from rso_ref.cli import build_parser
    from rso_ref.data import LOADERS

    names: set[str] = set()
    seen: set[int] = set()  # a re-export (rso_ref.RSO is rso_ref.optim.RSO) is one entry

    def add(qualname: str, obj: Any) -> None:
        if qualname in EXEMPT or id(obj) in seen:
            return
        seen.add(id(obj))
        if inspect.isclass(obj):
            if issubclass(obj, BaseException):
                return
            names.add(qualname)
            names.update(f"{qualname}.{m}" for m in _METHODS if callable(getattr(obj, m, None)))
        elif inspect.isfunction(obj) or inspect.isbuiltin(obj):
            names.add(qualname)

    for module_name in _MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                continue
            add(f"{module_name}.{name}", obj)
    import rso_ref.nn as nn
    for name in _MODELS:
        add(f"rso_ref.nn.{name}", getattr(nn, name))
    for name, loader in LOADERS.items():
        add(f"rso_ref.data.{loader.__name__}", loader)
    names.add("rso_ref.data.read_idx")
    names.add("rso_ref.golden.verify")
    names.update(_cli_commands(build_parser()))
    return names


def _cli_commands(parser, prefix: str = "rso-ref") -> set[str]:
    import argparse

    commands: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _cli_commands(sub, f"{prefix} {name}")
                commands.update(nested or {f"{prefix} {name}"})
    return commands
