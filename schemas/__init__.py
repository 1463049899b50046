"""Load and validate params.yaml: every problem at once, each by dotted path.

from schemas import load_params
params = load_params("params.yaml")   # raises ParamsError listing every bad key
"""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from schemas.params import Params
from schemas.sft import SftParams

__all__ = ["Params", "ParamsError", "SftParams", "load_params", "validate_params"]


class ParamsError(ValueError):
    """params.yaml is unreadable or invalid; `problems` holds one line per bad key."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{source}: {len(problems)} {noun}\n" + "\n".join(f"  - {p}" for p in problems))


def load_params(path: str | Path = "params.yaml", check_peft: bool = False) -> Params | SftParams:
    """Read a params file with OmegaConf (floats like `1e-4`, `${...}` interpolation) and validate it.

    `check_peft=True` also hands each adapter's `peft` block to PEFT's own config class; that imports PEFT
    (about 5 s), so only the stages that train or load adapters ask for it.

    Raises ParamsError when the file is missing, is not YAML, has a broken
    interpolation, or fails validation; the error lists every problem.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    path = Path(path)
    if not path.is_file():
        raise ParamsError(str(path), [f"file not found (looked in {path.resolve().parent})"])
    check_yaml_size(path)
    try:
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except (OmegaConfBaseException, ValueError) as exc:
        raise ParamsError(str(path), [f"cannot read: {exc}".splitlines()[0]]) from None
    except Exception as exc:  # yaml.YAMLError and friends: report, never a traceback
        raise ParamsError(str(path), [f"not valid YAML: {exc}".replace("\n", " ")]) from None
    if not isinstance(raw, dict):
        raise ParamsError(str(path), ["the top level must be a mapping of sections"])
    return validate_params(raw, source=str(path), check_peft=check_peft)


# A params file is a few hundred nodes; anchors are rare. These limits leave a wide margin and stop a YAML
# "billion laughs" document (a 600-byte file expanding to millions of nodes) before OmegaConf expands it.
MAX_YAML_ALIASES = 100
MAX_YAML_NODES = 100_000


def check_yaml_size(path: Path) -> None:
    """Refuse a YAML file with more than MAX_YAML_ALIASES aliases or more than MAX_YAML_NODES nodes once expanded.

    PyYAML composes an alias as a reference to the anchored node, so counting here is cheap; OmegaConf and
    pydantic would copy every reference, which is where an alias bomb costs minutes and gigabytes.
    Raises ParamsError naming the limit; a file PyYAML cannot parse is left to the normal load for its message.
    """
    import yaml

    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        aliases = sum(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader))
        root = yaml.compose(text, Loader=yaml.SafeLoader) if aliases <= MAX_YAML_ALIASES else None
    except yaml.YAMLError:
        return
    except RecursionError:
        raise ParamsError(str(path), ["YAML nested too deeply to read; flatten it"]) from None
    if aliases > MAX_YAML_ALIASES:
        raise ParamsError(
            str(path),
            [f"{aliases} YAML aliases (*name); at most {MAX_YAML_ALIASES} are allowed: write the values out instead"],
        )
    sizes: dict[int, int] = {}

    def expanded(node: yaml.Node) -> int:
        if id(node) not in sizes:
            sizes[id(node)] = 0  # a recursive alias counts once instead of looping
            children = node.value if isinstance(node, yaml.SequenceNode) else ()
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            sizes[id(node)] = 1 + sum(expanded(child) for child in children)
        return sizes[id(node)]

    try:
        nodes = expanded(root) if root is not None else 0
    except RecursionError:
        raise ParamsError(str(path), ["YAML nested too deeply to read; flatten it"]) from None
    if nodes > MAX_YAML_NODES:
        raise ParamsError(
            str(path),
            [
                f"expands to {nodes:,} YAML nodes through its aliases; at most {MAX_YAML_NODES:,} are allowed: "
                "write the values out instead of nesting anchors"
            ],
        )


def params_model(data: dict[str, Any]) -> type[Params] | type[SftParams]:
    """The top-level model of a params file: its `task` (default classification) picks it."""
    return SftParams if data.get("task") == "sft" else Params


def validate_params(data: dict[str, Any], source: str = "params", check_peft: bool = True) -> Params | SftParams:
    """Validate an already-loaded mapping against its task's model; raise ParamsError with every problem."""
    model = params_model(data)
    try:
        return model.model_validate(data, context={"check_peft": check_peft})
    except ValidationError as exc:
        problems = [line for err in exc.errors() for line in _describe(err, model).split("\n")]
        raise ParamsError(source, problems) from None


def dotted(loc: tuple[Any, ...]) -> str:
    """('ingest', 'sources', 1, 'format') -> 'ingest.sources[1].format'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(err: dict[str, Any], model: type[BaseModel] = Params) -> str:
    loc = tuple(p for p in err["loc"] if not _is_internal_tag(p))
    where = dotted(loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], model)
        hint = ""
        if allowed:
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            hint += f" Allowed keys: {', '.join(allowed)}"
        return f"{where}: unknown key{hint}"
    msg = err["msg"].removeprefix("Value error, ")
    if not loc:  # a check across sections: its message names each dotted path itself
        return msg
    if err["type"] == "missing":
        return f"{where}: required key is missing"
    return f"{where}: {msg}; got {err['input']!r}"


def _is_internal_tag(part: Any) -> bool:
    # pydantic adds validator names such as 'function-after[...]' to some locations
    return isinstance(part, str) and ("[" in part and part.endswith("]"))


def _allowed_keys(loc: tuple[Any, ...], model: type[BaseModel] = Params) -> list[str]:
    """The field names of the model found at `loc`, or [] when it cannot be resolved."""
    node: Any = model
    for part in loc:
        node = _step(node, part)
        if node is None:
            return []
    model = _as_model(node)
    return sorted(model.model_fields) if model else []


def _as_model(node: Any) -> type[BaseModel] | None:
    if isinstance(node, type) and issubclass(node, BaseModel):
        return node
    if typing.get_origin(node) in (list, dict, tuple):
        return None
    for arg in typing.get_args(node):  # Optional[Model], Annotated[Model, ...]
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _step(node: Any, part: Any) -> Any:
    model = _as_model(node)
    if model is not None and isinstance(part, str):
        field = model.model_fields.get(part)
        if field is not None:
            return field.annotation
        # a discriminated union puts the tag (e.g. 'adapter') in the location
        return None
    origin = typing.get_origin(node)
    args = [a for a in typing.get_args(node) if a is not type(None)]
    if origin in (list, tuple) and isinstance(part, int):
        return args[0] if args else None
    if origin is dict:
        return args[1] if len(args) == 2 else None
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            found = _step(arg, part)
            if found is not None:
                return found
    return None
