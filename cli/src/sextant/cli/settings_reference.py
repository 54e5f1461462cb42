"""docs/settings.md, generated from the settings classes: the runtime's (every service
reads them) and each service's ``settings.py``. ``sextant settings --output
docs/settings.md`` rewrites it; a test fails when the page and the classes differ, or
when a setting has no description."""

from __future__ import annotations

import importlib
import inspect
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from sextant.cli.services import SERVICE_NAMES
from sextant.runtime.settings import RuntimeSettings, ServiceSettings

HEADER = """# Settings reference

Generated from the settings classes by `sextant settings --output docs/settings.md`; a
test fails when this page and the classes differ. Edit the classes' descriptions, not
this page.

Every setting is an environment variable (names are not case-sensitive). Lists and maps
are JSON unless the meaning says otherwise. The runtime's settings apply to every
service; a service's own settings carry its prefix.
"""

SCALARS: dict[object, str] = {
    str: "text",
    int: "integer",
    float: "number",
    bool: "true/false",
    Path: "path",
    SecretStr: "secret",
}

BOUNDS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}  # pydantic's Field(ge=…) and so on


class MissingDescription(ValueError):
    """Settings without a description: the reference would leave their meaning out."""


def service_settings_classes() -> Iterator[tuple[str, type[BaseSettings]]]:
    """Each service's own settings class, from ``sextant.<service>.settings``."""
    for name in SERVICE_NAMES:
        module = importlib.import_module(f"sextant.{name}.settings")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, ServiceSettings) and cls.__module__ == module.__name__:
                yield name, cls


def every_settings_class() -> list[tuple[str, type[BaseSettings]]]:
    """The runtime's settings, then each service's, as the page lists them."""
    return [("Every service (runtime)", RuntimeSettings), *service_settings_classes()]


def render(sections: Sequence[tuple[str, type[BaseSettings]]] | None = None) -> str:
    """The page for ``sections`` (default: every settings class); raises
    :class:`MissingDescription` naming every setting without a description."""
    sections = every_settings_class() if sections is None else sections
    missing: list[str] = []
    parts = [HEADER]
    for title, cls in sections:
        parts.append(f"## {title}\n\n`{cls.__module__}.{cls.__name__}`\n")
        parts.append(_table(cls, missing))
        for model in _nested_models(cls):
            parts.append(f"### {model.__name__}\n\n{_doc(model)}\n")
            parts.append(_table(model, missing))
    if missing:
        raise MissingDescription(f"settings without a description: {', '.join(missing)}")
    return "\n".join(parts)


def _table(cls: type[BaseModel], missing: list[str]) -> str:
    """The rows of ``cls``'s settings (or a held model's fields); the undescribed ones
    are added to ``missing``, by variable (or ``Model.field``)."""
    if not cls.model_fields:
        return "No settings of its own.\n"
    settings = issubclass(cls, BaseSettings)
    prefix = str(cls.model_config.get("env_prefix", "")) if settings else ""
    name_column = "variable" if settings else "field"
    rows = [f"| {name_column} | type | default | meaning |", "| --- | --- | --- | --- |"]
    for field_name, info in cls.model_fields.items():
        names = _env_names(prefix, field_name, info) if settings else [field_name]
        if not info.description:
            missing.append(names[0] if settings else f"{cls.__name__}.{field_name}")
        rows.append(
            "| "
            + " | ".join(
                [
                    " or ".join(f"`{n}`" for n in names),
                    _cell(_type(info)),
                    _cell(_default(info)),
                    _cell(info.description or ""),
                ]
            )
            + " |"
        )
    return "\n".join(rows) + "\n"


def _env_names(prefix: str, field_name: str, info: FieldInfo) -> list[str]:
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    if isinstance(alias, str):
        return [alias]
    return [f"{prefix}{field_name}".upper()]


def _type(info: FieldInfo) -> str:
    bounds = [
        f"{sign} {_number(getattr(item, attribute))}"
        for item in info.metadata
        for attribute, sign in BOUNDS.items()
        if getattr(item, attribute, None) is not None  # annotated_types.Ge(ge=1), …
    ]
    return ", ".join([_type_name(info.annotation), *bounds])


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return _type_name(args[0])
    if origin is Literal:
        return " or ".join(f'"{a}"' for a in args)
    if origin in (Union, types.UnionType):  # X | None: the default says "unset"
        return " or ".join(_type_name(a) for a in args if a is not type(None))
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if annotation in SCALARS:
        return SCALARS[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.__name__
    return str(annotation)


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, (list, dict, str)) and not value:
        return "empty"
    return f"`{value}`"


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _doc(model: type[BaseModel]) -> str:
    return inspect.cleandoc(model.__doc__ or "")


def _nested_models(cls: type[BaseModel]) -> list[type[BaseModel]]:
    """Models a setting holds (the gateway's trusted issuers), described after it."""
    found: list[type[BaseModel]] = []
    for info in cls.model_fields.values():
        pending = [info.annotation]
        while pending:
            annotation = pending.pop()
            pending.extend(get_args(annotation))
            if (
                isinstance(annotation, type)
                and issubclass(annotation, BaseModel)
                and not issubclass(annotation, BaseSettings)
                and annotation not in found
            ):
                found.append(annotation)
    return found
