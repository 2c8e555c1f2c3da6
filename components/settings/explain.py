"""Pydantic's validation errors as operator messages: the key in the stack file, what is wrong,
and for an unknown key the closest known one."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from components.settings.stack import PROJECT
from components.settings.values import SettingError

# Settings renamed since they first appeared: a stack file with the old key is told the new one.
RENAMED = {f"{PROJECT}:persistence.projectsPerUser": "projectsLimit"}
# Settings retired, and why.
RETIRED = {f"{PROJECT}:magnum.kubernetesVersion": "is no longer a setting: the Cluster API driver runs the "
                                                  "version of the image (its kube_version property); remove it"}

def explain(exc: ValidationError, root: type[BaseModel]) -> list[str]:
    """One line per mistake: the key path in the stack file, and what is wrong with it."""
    lines = []
    for error in exc.errors():
        loc = list(error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, SettingError):
            loc += cause.key.split(".")
            message = str(cause)
        elif error["type"] == "missing":
            field = _field_at(root, loc)
            message = "is required" + (f": {field.description}" if field and field.description else "")
        elif error["type"] == "extra_forbidden":
            message = _unknown_key_message(root, loc)
        else:
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] != "value_error":  # our own validators name the value already
                message += f", got {_shorten(error['input'])}"
            if error["type"] == "string_type" and isinstance(error["input"], (int, float)):
                message += " (YAML reads it as a number: quote it, such as '1.30')"
        lines.append(f"{_key_path(loc)}: {message}")
    return lines


def _key_path(loc: list) -> str:
    path = f"{PROJECT}:{loc[0]}" if loc else PROJECT
    for part in loc[1:]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _shorten(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_key_message(root: type[BaseModel], loc: list) -> str:
    if _key_path(loc) in RETIRED:
        return RETIRED[_key_path(loc)]
    model = _model_at(root, loc[:-1])
    known = sorted(field.alias for field in model.model_fields.values()) if model else []
    message = "is not a known setting"
    close = [RENAMED[_key_path(loc)]] if _key_path(loc) in RENAMED else difflib.get_close_matches(
        str(loc[-1]), known, n=1)
    if close:
        message += f"; did you mean '{close[0]}'?"
    if known:
        message += f" (known here: {', '.join(known)})"
    return message


def _model_at(root: type[BaseModel], loc: list) -> type[BaseModel] | None:
    """The settings model that holds the keys at `loc` (list indices skipped)."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = _field_by_alias(model, part)
        model = _inner_model(field.annotation) if field else None
    return model


def _field_at(root: type[BaseModel], loc: list):
    model = _model_at(root, loc[:-1])
    return _field_by_alias(model, loc[-1]) if model and loc else None


def _field_by_alias(model: type[BaseModel], alias: Any):
    return next((f for f in model.model_fields.values() if f.alias == alias), None)


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside `X | None`, `list[X]` or `Annotated[X, ...]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            inner = _inner_model(arg)
            if inner:
                return inner
    return None
