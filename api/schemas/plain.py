"""A shortcut past Schema.load for the bodies nearly every client sends, derived from the schema itself.

marshmallow spends most of a load in its per-field machinery (getters, missing/None handling, error bookkeeping),
not in the validators. For a schema whose load fields are plain strings, integers, booleans and lists of those,
a body whose every value already has its field's canonical Python type (str, int, bool, list, or None where
allowed) loads to itself: PlainLoader checks exactly that, runs the fields' own validator objects, fills the
load defaults, and returns the same dict Schema.load would. Anything else — another type (a "5" for an integer, a
1 for a boolean), a value a validator refuses, an unknown or missing field, a field or schema hook it does not
know — gives None, and the caller loads with the schema, which also words the errors. tests/test_plain_loader.py
checks the two against each other on generated bodies.
"""
from collections.abc import Callable

from marshmallow import RAISE, Schema, ValidationError, fields
from marshmallow.utils import missing

_TYPES = {fields.String: str, fields.Integer: int, fields.Boolean: bool}
_LOAD_HOOKS = ("pre_load", "post_load", "validates_schema", "validates")


def _check_of(field: fields.Field) -> Callable[[object], bool] | None:
    """value → whether the field loads it to itself; None when the field is not one PlainLoader knows."""
    if type(field) is fields.List:
        inner = _check_of(field.inner)
        if inner is None:
            return None
        kind: type = list
    elif type(field) in _TYPES:
        inner, kind = None, _TYPES[type(field)]
    else:
        return None
    validators = tuple(field.validators)
    allow_none = field.allow_none

    def check(value) -> bool:
        if value is None:
            return allow_none
        if type(value) is not kind or inner is not None and not all(inner(item) for item in value):
            return False
        try:
            for validate in validators:
                if validate(value) is False:  # a validator may answer False instead of raising
                    return False
        except ValidationError:
            return False
        return True

    return check


class PlainLoader:
    def __init__(self, schema: Schema):
        self.fields: dict[str, tuple[str, Callable]] = {}  # data key → (attribute, check)
        self.required: list[str] = []
        self.defaults: list[tuple[str, object]] = []
        hooks = getattr(type(schema), "_hooks", None)
        self.usable = (schema.unknown == RAISE and hooks is not None and not any(hooks.get(h) for h in _LOAD_HOOKS)
                       and not schema.only and not schema.exclude and not schema.partial)
        for name, field in schema.load_fields.items():
            check = _check_of(field)
            if check is None or callable(field.load_default):
                self.usable = False
                break
            key = field.data_key or name
            self.fields[key] = (field.attribute or name, check)
            if field.required:
                self.required.append(key)
            if field.load_default is not missing:
                self.defaults.append((field.attribute or name, field.load_default))

    def load(self, body: dict) -> dict | None:
        """What schema.load(body) gives, or None where the schema has to decide."""
        if not self.usable:
            return None
        loaded = {}
        for key, value in body.items():
            found = self.fields.get(key)
            if found is None or not found[1](value):
                return None
            loaded[found[0]] = value if type(value) is not list else list(value)
        for key in self.required:
            if key not in body:
                return None
        for attribute, default in self.defaults:
            loaded.setdefault(attribute, default)
        return loaded
