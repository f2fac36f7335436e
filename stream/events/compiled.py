"""A JSON Schema compiled to one Python predicate: the edge's fast check for valid records.

Why by hand: the edge validates every record, and fastjsonschema's generated code costs ~12 µs
per event here, more than the rest of the edge together. This compiles the keywords Sway's
schemas use into nested closures (~2 µs). It answers only *whether* a record is valid; the
reason for an invalid one comes from jsonschema, which stays the reference (a Hypothesis test
shows both agree on generated valid and invalid records). A keyword it does not know is an
error at compile time, so a schema change can never be skipped silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator

Check = Callable[[Any], bool]

#: Keywords that do not constrain an instance.
ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "$comment", "examples", "default"})

_FORMATS = Draft202012Validator.FORMAT_CHECKER


def _is_integer(v: Any) -> bool:
    t = type(v)
    return t is int or (t is float and v.is_integer())  # JSON Schema: 1.0 is an integer


def _strings(values: Any, keyword: str) -> frozenset[str]:
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{keyword}: only string values are compiled")
    return frozenset(values)


def compile_schema(schema: dict[str, Any]) -> Check:
    """A predicate equivalent to validating against `schema` (the subset Sway uses): Python
    source generated for this schema, with every keyword inlined (no call per property)."""
    gen = _Generator()
    name = gen.function(schema)
    namespace: dict[str, Any] = dict(gen.values)
    exec("\n".join(gen.lines), namespace)
    check: Check = namespace[name]
    return check


class _Generator:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.values: dict[str, Any] = {"_is_integer": _is_integer, "_FORMATS": _FORMATS}
        self._n = 0

    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def value(self, v: Any) -> str:
        """A constant the generated code reads by name (sets, patterns, limits)."""
        name = self._name("_c")
        self.values[name] = v
        return name

    def function(self, schema: dict[str, Any]) -> str:
        """A function `name(v) -> bool` for `schema`; returns its name."""
        name = self._name("_check")
        body = self.statements(schema, "v", 1)
        self.lines += [f"def {name}(v):", *body, "    return True"]
        return name

    def statements(self, schema: dict[str, Any], var: str, depth: int) -> list[str]:
        """Lines that `return False` when `var` does not satisfy `schema`."""
        unknown = set(schema) - ANNOTATIONS - _KEYWORDS
        if unknown:
            raise ValueError(f"keywords not compiled: {sorted(unknown)}")
        pad = "    " * depth
        out: list[str] = []

        def fail_if(cond: str) -> None:
            out.append(f"{pad}if {cond}: return False")

        if "type" in schema:
            fail_if(f"not ({_TYPE_TESTS[schema['type']].format(v=var)})")
        if "enum" in schema:
            fail_if(f"type({var}) is not str or {var} not in {self.value(_strings(schema['enum'], 'enum'))}")
        if "const" in schema:
            (const,) = _strings([schema["const"]], "const")
            fail_if(f"type({var}) is not str or {var} != {self.value(const)}")
        if "not" in schema:
            fail_if(f"{self.function(schema['not'])}({var})")
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")
        if lo or hi is not None:
            top = hi if hi is not None else 2**63
            fail_if(f"type({var}) is str and not ({lo} <= len({var}) <= {top})")
        if "pattern" in schema:
            search = self.value(re.compile(schema["pattern"]).search)
            fail_if(f"type({var}) is str and {search}({var}) is None")
        if "format" in schema:
            fmt = self.value(schema["format"])
            fail_if(f"type({var}) is str and not _FORMATS.conforms({var}, {fmt})")
        if "minimum" in schema or "maximum" in schema:
            lo_v = self.value(schema.get("minimum", float("-inf")))
            hi_v = self.value(schema.get("maximum", float("inf")))
            number = _TYPE_TESTS["number"].format(v=var)
            fail_if(f"({number}) and not ({lo_v} <= {var} <= {hi_v})")
        if "maxItems" in schema:
            fail_if(f"type({var}) is list and len({var}) > {int(schema['maxItems'])}")
        if "items" in schema:
            item = self.function(schema["items"])
            fail_if(f"type({var}) is list and not all({item}(x) for x in {var})")
        if "required" in schema:
            keys = " or ".join(f"{k!r} not in {var}" for k in schema["required"])
            fail_if(f"type({var}) is dict and ({keys})")
        if "properties" in schema:
            out.append(f"{pad}if type({var}) is dict:")
            for key, sub in schema["properties"].items():
                child = self._name("_p")
                inner = self.statements(sub, child, depth + 2)
                if inner:
                    out.append(f"{pad}    {child} = {var}.get({key!r}, _MISSING)")
                    out.append(f"{pad}    if {child} is not _MISSING:")
                    out += inner
            out.append(f"{pad}    pass")
            self.values["_MISSING"] = _MISSING
        if "oneOf" in schema:
            options = [self.function(s) for s in schema["oneOf"]]
            fail_if(f"({' + '.join(f'{o}({var})' for o in options)}) != 1")
        if "if" in schema:
            cond = self.function(schema["if"])
            then = self.function(schema.get("then", {}))
            other = self.function(schema.get("else", {}))
            fail_if(f"not ({then}({var}) if {cond}({var}) else {other}({var}))")
        return out


_MISSING = object()
_TYPE_TESTS = {
    "object": "type({v}) is dict",
    "array": "type({v}) is list",
    "string": "type({v}) is str",
    "integer": "_is_integer({v})",
    "number": "type({v}) is int or type({v}) is float",
    "boolean": "type({v}) is bool",
    "null": "{v} is None",
}


_KEYWORDS = frozenset(
    {
        "type", "enum", "const", "not", "minLength", "maxLength", "pattern", "format",
        "minimum", "maximum", "maxItems", "items", "required", "properties", "oneOf",
        "if", "then", "else",
    }
)  # fmt: skip
