"""The docstrings of the public API pass numpydoc's validation.

The public API is what the documentation site's API reference documents: the modules
of :data:`PUBLIC_MODULES`, each with the names in its ``__all__``. For every function
and class there (validated where it is defined, once, even when several modules
re-export it) and every public method, property, class- and staticmethod defined in
such a class, :func:`numpydoc.validate.validate` must report no error outside
:data:`IGNORED`. One test per module, so a failure names the module and lists every
``object: CODE message`` of it.

The math modules also state their equations: every public function and class of
:data:`MATH_MODULES` has a ``:math:`` role or a ``.. math::`` block in its docstring,
except the bookkeeping helpers of :data:`NO_EQUATION`, which have none to state.
"""
from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import re
from pathlib import Path

import pytest

numpydoc_validate = pytest.importorskip(
    "numpydoc.validate", reason="numpydoc not installed; pip install -e '.[docs]'")

DOCS_API = Path(__file__).resolve().parent.parent / "docs" / "api"

#: The modules of the API reference (docs/api/*.rst); test_api_reference_pages keeps the
#: two in step.
PUBLIC_MODULES = (
    "rso_ref", "rso_ref.rso", "rso_ref.lbfgs", "rso_ref.objective", "rso_ref.numdiff",
    "rso_ref.linesearch", "rso_ref.optim", "rso_ref.nn", "rso_ref.hessian", "rso_ref.lanczos",
    "rso_ref.autodiff", "rso_ref.data",
    "rso_ref.train", "rso_ref.metrics", "rso_ref.checkpoint", "rso_ref.stats",
    "rso_ref.backend", "rso_ref.tree", "rso_ref.pytree", "rso_ref.golden", "rso_ref.testing",
    "rso_ref.interop.torch",
)

#: Checks that are about style, not about what a reader needs, and are not enforced:
#:
#: - ``SA01`` "See Also section not found": cross-links are added where they help,
#:   not on every function;
#: - ``EX01`` "No examples section found": the notebooks and the getting-started page
#:   are the worked examples; a doctest on every small helper would repeat them;
#: - ``ES01`` "No extended summary found": a one-line summary with documented
#:   parameters and returns is enough for a helper.
#:
#: Every other check (parameters documented with types, Returns, summaries, section
#: order, ...) is an error.
IGNORED = frozenset({"SA01", "EX01", "ES01"})

#: Modules whose public functions and classes state their equation.
MATH_MODULES = ("rso_ref.rso", "rso_ref.lbfgs", "rso_ref.numdiff", "rso_ref.linesearch",
                "rso_ref.optim", "rso_ref.hessian", "rso_ref.lanczos")

#: Public objects of MATH_MODULES that compute no formula (argument checks, records,
#: registries, bookkeeping), so have no equation to show.
NO_EQUATION = frozenset({
    "rso_ref.rso.check_group_spec", "rso_ref.rso.check_w0", "rso_ref.rso.resolve_groups",
    "rso_ref.rso.evaluate_oracle", "rso_ref.rso.host_weights",
    "rso_ref.linesearch.evaluate_array_oracle",
    "rso_ref.hessian.as_matvec", "rso_ref.optim.contract.Needs",
    "rso_ref.optim.contract.Optimizer",
})


def _documented(obj) -> bool:
    return inspect.isfunction(obj) or inspect.isclass(obj)


def public_objects(module_name: str) -> dict[str, object]:
    """``{import path: object}`` of the module's public functions, classes and methods.

    Names are the defining module's (``obj.__module__``), so an object re-exported by
    several public modules is validated once. Objects defined outside ``rso_ref`` (a
    re-exported third-party function) and data (constants, tables) are left out.
    """
    module = importlib.import_module(module_name)
    found: dict[str, object] = {}
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name)
        if not _documented(obj) or not obj.__module__.startswith("rso_ref"):
            continue
        path = f"{obj.__module__}.{obj.__qualname__}"
        found[path] = obj
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if inspect.isfunction(member) or isinstance(
                        member, (property, classmethod, staticmethod)):
                    found[f"{path}.{attr}"] = member
    return found


def test_public_modules_have_objects():
    # Guards the enumeration: a module whose __all__ went missing would test nothing.
    for name in ("rso_ref.backend", "rso_ref.tree", "rso_ref.rso", "rso_ref.optim", "rso_ref.nn"):
        assert len(public_objects(name)) >= 5, name


def test_api_reference_pages():
    """docs/api/ documents exactly the modules validated here."""
    pages = "".join(p.read_text(encoding="utf-8") for p in sorted(DOCS_API.glob("*.rst")))
    documented = set(re.findall(r"^\.\. automodule:: (\S+)", pages, flags=re.MULTILINE))
    assert documented == set(PUBLIC_MODULES)


def _record_fields(obj) -> list[str] | None:
    """Field names of a dataclass or NamedTuple record, None for any other object."""
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
        return [f.name for f in dataclasses.fields(obj) if f.init and f.name != "_"]
    if inspect.isclass(obj) and issubclass(obj, tuple) and hasattr(obj, "_fields"):
        return list(obj._fields)
    return None


def _inherits_same_contract(obj) -> bool:
    """Whether ``obj`` is a method without a docstring that overrides a documented
    method of a base class with the same named parameters: Sphinx and ``help()`` show
    the base's docstring, which documents it exactly."""
    if not inspect.isfunction(obj) or obj.__doc__:
        return False
    owner = importlib.import_module(obj.__module__)
    for part in obj.__qualname__.split(".")[:-1]:
        owner = getattr(owner, part)
    for base in owner.__mro__[1:]:
        base_method = vars(base).get(obj.__name__)
        if inspect.isfunction(base_method) and base_method.__doc__:
            return _named_parameters(base_method) == _named_parameters(obj)
    return False


def _named_parameters(function) -> list[str]:
    # ``**oracles`` of the contract is left out: an override that takes no keyword
    # oracles drops it, and the base docstring says which oracles each kind takes.
    return [name for name, p in inspect.signature(function).parameters.items()
            if p.kind is not inspect.Parameter.VAR_KEYWORD]


def _doc(cls):
    from numpydoc.docscrape import ClassDoc

    return ClassDoc(cls, config={"show_class_members": False})


def validation_errors(path: str, obj) -> list[str]:
    """numpydoc's errors for ``obj`` less the ignored checks and the justified cases.

    Justified, and checked instead of ignored:

    - ``PR01`` on a result record (a dataclass or NamedTuple whose docstring has no
      Parameters section): its fields are documented under Attributes, what a reader of
      a returned record looks for; every field must be there.
    - ``PR01`` on an :class:`enum.Enum`: the "parameters" are the enum machinery's
      (``value, names, module, ...``), not the library's.
    - ``GL08`` (no docstring) on a method that overrides a documented base method with the
      same parameters (:func:`_inherits_same_contract`).
    """
    errors = []
    for code, message in numpydoc_validate.validate(path)["errors"]:
        if code in IGNORED:
            continue
        if code == "PR01" and inspect.isclass(obj) and issubclass(obj, enum.Enum):
            continue
        if code == "PR01" and _record_fields(obj) is not None and not _doc(obj)["Parameters"]:
            documented = {name for item in _doc(obj)["Attributes"]
                          for name in item.name.replace(" ", "").split(",")}
            missing = [f for f in _record_fields(obj) if f not in documented]
            if missing:
                errors.append(f"{path}: record fields not documented under Attributes: "
                              f"{missing}")
            continue
        if code == "GL08" and _inherits_same_contract(obj):
            continue
        errors.append(f"{path}: {code} {message}")
    return errors


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_numpydoc_validation(module_name):
    errors = [error for path, obj in sorted(public_objects(module_name).items())
              for error in validation_errors(path, obj)]
    assert not errors, f"{len(errors)} numpydoc errors:\n" + "\n".join(errors)


@pytest.mark.parametrize("module_name", MATH_MODULES)
def test_math_modules_state_their_equations(module_name):
    module = importlib.import_module(module_name)
    objects = {f"{obj.__module__}.{obj.__qualname__}": obj
               for obj in (getattr(module, name) for name in module.__all__)
               if _documented(obj) and obj.__module__.startswith("rso_ref")}
    missing = [path for path, obj in sorted(objects.items()) if path not in NO_EQUATION
               and not re.search(r":math:|\.\. math::", inspect.getdoc(obj) or "")]
    assert not missing, "no equation in the docstring of: " + ", ".join(missing)
    stale = [path for path in NO_EQUATION
             if path.startswith(module_name + ".") and path not in objects]
    assert not stale, f"NO_EQUATION names objects that are not public here: {stale}"
