"""Typed decoding of request params, failing with 0.58's `Invalid request: <serde message>` texts.

The fast path is one msgspec call. Only when it fails do we rebuild serde's wording: the failing path
from msgspec's message, the offending value from the raw JSON and the expected type from the Struct's
annotations (whose `Meta.extra["rust"]` names the Rust type where the words depend on it).
"""

from __future__ import annotations

import functools
import re
import sys
import typing
from typing import Any, Literal, Union

import msgspec

from messages.jsonrpc import RpcError, invalid_request

_PATH = re.compile(r" - at `\$(.*)`$")
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_MISSING = re.compile(r"^Object missing required field `([^`]+)`")
_UUID_KINDS = ("ConversationId", "Uuid")


def decode_params(params_type: Any, raw: Any) -> Any:
    """Decode `raw` (JSON bytes / msgspec.Raw, or an already-decoded value; None when absent) into
    `params_type`, or raise RpcError(-32600). `params_type=None` is a method without params."""
    if isinstance(raw, (bytes, bytearray, memoryview, msgspec.Raw)):
        if params_type is None:
            return _decode_unit(_loads(raw))
        try:
            value = _decoder(params_type).decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            loaded = _loads(raw)
            if loaded is None:
                raise invalid_request("Invalid request: missing field `params`") from None
            value = _slow_path(params_type, loaded, exc)
    else:
        if params_type is None:
            return _decode_unit(raw)
        if raw is None:
            raise invalid_request("Invalid request: missing field `params`")
        try:
            value = msgspec.convert(raw, params_type)
        except msgspec.ValidationError as exc:
            value = _slow_path(params_type, raw, exc)
    return _post_validate(value)


def canonical_uuid(text: str) -> str:
    """The lowercase hyphenated form of a UUID in any form Rust's `uuid` crate parses, else ValueError
    carrying that crate's message."""
    body = _uuid_body(text)
    return f"{body[0:8]}-{body[8:12]}-{body[12:16]}-{body[16:20]}-{body[20:32]}".lower()


# --- fast path helpers ---------------------------------------------------------------------------


@functools.cache
def _decoder(params_type: Any) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(params_type)


def _loads(raw: Any) -> Any:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise invalid_request(f"Invalid request: {exc}") from None


def _decode_unit(value: Any) -> None:
    if value is None or value == {}:
        return None
    raise invalid_request(f"Invalid request: invalid type: {_unexpected(value)}, expected unit")


@functools.cache
def _uuid_fields(cls: type) -> tuple[tuple[str, str], ...]:
    """(attribute, rust kind) of the top-level UUID fields of a params Struct."""
    found = []
    for name, hint in typing.get_type_hints(cls, include_extras=True).items():
        kind = _rust_kind(_strip_optional(hint))
        if kind in _UUID_KINDS:
            found.append((name, kind))
    return tuple(found)


def _post_validate(value: Any) -> Any:
    # The wire modules load on demand (start-up speed): a value can only be a v1 Struct once v1 has
    # defined it (the start-up thread may be loading v1 at this very moment).
    summary = getattr(sys.modules.get("messages.v1"), "GetConversationSummaryParams", None)
    if summary is not None and isinstance(value, summary):
        _pick_summary_variant(value)
    if isinstance(value, msgspec.Struct):
        for attr, kind in _uuid_fields(type(value)):
            text = getattr(value, attr)
            if isinstance(text, str):
                try:
                    setattr(value, attr, canonical_uuid(text))
                except ValueError as exc:
                    prefix = "UUID parsing failed: " if kind == "Uuid" else ""
                    raise invalid_request(f"Invalid request: {prefix}{exc}") from None
    return value


def _pick_summary_variant(value: Any) -> None:
    # An untagged enum: serde tries `rolloutPath` first and ignores the other key when it matches.
    if value.rollout_path is not None:
        value.conversation_id = None
        return
    if value.conversation_id is not None:
        try:
            value.conversation_id = canonical_uuid(value.conversation_id)
            return
        except ValueError:
            pass
    raise invalid_request(
        "Invalid request: data did not match any variant of untagged enum GetConversationSummaryParams"
    )


# --- UUIDs as Rust's uuid crate parses them --------------------------------------------------------


_HEX = "[0-9a-fA-F]"
_UUID_FORMS = re.compile(
    rf"(?:urn:uuid:|\{{(?=.{{36}}\}}$))?({_HEX}{{8}})-?({_HEX}{{4}})-?({_HEX}{{4}})-?({_HEX}{{4}})-?({_HEX}{{12}})\}}?"
)


def _uuid_body(text: str) -> str:
    # Only the exact shapes the uuid crate takes: 32 hex, or hyphenated bare / braced / urn-prefixed.
    match = _UUID_FORMS.fullmatch(text)
    if match is not None and (len(text) == 32 or (len(text) in (36, 38, 45) and text.count("-") == 4)):
        if len(text) != 38 or (text[0] == "{" and text[-1] == "}"):
            return "".join(match.groups())
    raise ValueError(_uuid_error(text))


def _uuid_error(text: str) -> str:
    # Mirrors the uuid crate's diagnosis order: bad character, then length, group count, group length.
    if text.startswith("{") and text.endswith("}") and len(text) >= 2:
        body, offset, simple = text[1:-1], 1, False
    elif text.startswith("urn:uuid:"):
        body, offset, simple = text[9:], 9, False
    else:
        body, offset, simple = text, 0, True
    hyphens = 0
    bounds: list[int] = []
    index = 0
    for char in body:
        if ord(char) > 127:
            return ("invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], "
                    f"found `{char}` at {index + offset + 1}")
        if char == "-":
            if hyphens < 4:
                bounds.append(index)
            hyphens += 1
        elif char not in "0123456789abcdefABCDEF":
            return ("invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], "
                    f"found `{char}` at {index + offset + 1}")
        index += len(char.encode())
    if hyphens == 0 and simple:
        return f"invalid length: expected length 32 for simple format, found {len(text.encode())}"
    if hyphens != 4:
        return f"invalid group count: expected 5, found {hyphens + 1}"
    starts = (0, 9, 14, 19, 24)
    expected = (8, 4, 4, 4, 12)
    for i in range(4):
        if bounds[i] != starts[i + 1] - 1:
            return f"invalid group length in group {i}: expected {expected[i]}, found {bounds[i] - starts[i]}"
    return f"invalid group length in group 4: expected 12, found {len(text.encode()) - starts[4]}"


# --- rebuilding serde's message --------------------------------------------------------------------


def _slow_path(params_type: Any, raw: Any, exc: msgspec.MsgspecError) -> Any:
    from messages import v1

    if params_type is v1.GetConversationSummaryParams:
        if isinstance(raw, dict) and isinstance(raw.get("rolloutPath"), str):
            return v1.GetConversationSummaryParams(rollout_path=raw["rolloutPath"])  # other keys are not read
        raise invalid_request(
            "Invalid request: data did not match any variant of untagged enum GetConversationSummaryParams"
        )
    if isinstance(raw, list) and isinstance(params_type, type) and issubclass(params_type, msgspec.Struct):
        # serde also accepts a struct written as an array of its fields, in declaration order.
        fields = msgspec.structs.fields(params_type)
        if len(raw) < len(fields):
            raise invalid_request(
                f"Invalid request: invalid length {len(raw)}, expected struct {params_type.__name__} "
                f"with {len(fields)} elements"
            )
        if len(raw) > len(fields):
            noun = "element" if len(fields) == 1 else "elements"
            raise invalid_request(
                f"Invalid request: invalid length {len(raw)}, expected {len(fields)} {noun} in sequence"
            )
        as_object = {field.encode_name: item for field, item in zip(fields, raw, strict=True)}
        try:
            return msgspec.convert(as_object, params_type)
        except msgspec.ValidationError as exc2:
            raise _explain(params_type, as_object, exc2) from None
    raise _explain(params_type, raw, exc)


def _explain(params_type: Any, raw: Any, exc: msgspec.MsgspecError) -> RpcError:
    message = str(exc)
    match = _PATH.search(message)
    path = match.group(1) if match else ""
    head = message[: match.start()] if match else message
    segments: list[str | int] = [
        m.group(1) if m.group(1) is not None else int(m.group(2)) for m in _SEGMENT.finditer(path)
    ]
    missing = _MISSING.match(head)
    if missing:
        return invalid_request(f"Invalid request: missing field `{missing.group(1)}`")
    try:
        detail = _serde_detail(params_type, raw, segments)
    except Exception:  # noqa: BLE001 - a failed explanation must still answer with msgspec's own words
        detail = None
    if detail is None:
        where = f" (at `params{path}`)" if path else ""
        detail = head + where
    return invalid_request(f"Invalid request: {detail}")


def _serde_detail(tp: Any, value: Any, segments: list[str | int]) -> str | None:
    """Walk the type and the value along the failing path; describe the failure where it happened."""
    for seg in segments:
        tp = _strip_optional(tp)
        tagged = _tagged_union(tp)
        if tagged is not None and isinstance(value, dict):
            tag_field, variants, name = tagged
            if seg == tag_field:
                return _bad_tag(value.get(tag_field), tag_field, variants)
            tp = variants.get(value.get(tag_field))
            if tp is None:
                return _bad_tag(value.get(tag_field), tag_field, variants)
        base = _base(tp)
        if isinstance(seg, int):
            if not isinstance(value, list) or seg >= len(value):
                return None
            tp, value = (typing.get_args(base) or (Any,))[0], value[seg]
            continue
        if not isinstance(value, dict) or seg not in value:
            return None
        if isinstance(base, type) and issubclass(base, msgspec.Struct):
            tp = _field_type(base, seg)
        elif typing.get_origin(base) is dict:
            tp = typing.get_args(base)[1]
        else:
            return None
        value = value[seg]
    return _mismatch(tp, value)


def _mismatch(tp: Any, value: Any) -> str | None:
    optional = _is_optional(tp)
    tp = _strip_optional(tp)
    if value is None and optional:
        return None
    tagged = _tagged_union(tp)
    if tagged is not None:
        tag_field, variants, name = tagged
        if not isinstance(value, dict):
            return f"invalid type: {_unexpected(value)}, expected internally tagged enum {name}"
        return _bad_tag(value.get(tag_field), tag_field, variants)
    literal = _literal_values(tp)
    if literal is not None:
        if isinstance(value, str):
            return f"unknown variant `{value}`, {_one_of(literal)}"
        return f"invalid type: {_unexpected(value)}, expected string or map"
    kind = _rust_kind(tp)
    base = _base(tp)
    if base is int:
        rust = kind or "i64"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"invalid value: integer `{value}`, expected {rust}"
        return f"invalid type: {_unexpected(value)}, expected {rust}"
    expected = _expectation(base, kind)
    if expected is None:
        return None
    return f"invalid type: {_unexpected(value)}, expected {expected}"


def _expectation(base: Any, kind: str | None) -> str | None:
    if base is str:
        return {"PathBuf": "path string", "Uuid": "a UUID string"}.get(kind or "", "a string")
    if base is bool:
        return "a boolean"
    if base is float:
        return "f64"
    origin = typing.get_origin(base)
    if base is list or origin is list:
        return "a sequence"
    if base is dict or origin is dict:
        return "a map"
    if isinstance(base, type) and issubclass(base, msgspec.Struct):
        return f"struct {base.__name__}"
    return None


def _bad_tag(tag: Any, tag_field: str, variants: dict[str, Any]) -> str:
    if tag is None:
        return f"missing field `{tag_field}`"
    if isinstance(tag, int) and not isinstance(tag, bool):
        return f"invalid value: integer `{tag}`, expected variant index 0 <= i < {len(variants)}"
    if not isinstance(tag, str):
        return f"invalid type: {_unexpected(tag)}, expected variant identifier"
    return f"unknown variant `{tag}`, {_one_of(list(variants))}"


def _one_of(names: list[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    if not quoted:
        return "there are no variants"
    if len(quoted) == 1:
        return f"expected {quoted[0]}"
    if len(quoted) == 2:
        return f"expected {quoted[0]} or {quoted[1]}"
    return "expected one of " + ", ".join(quoted)


def _unexpected(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value!r}`"
    if isinstance(value, str):
        return 'string "' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "sequence"
    return "map"


# --- type introspection ----------------------------------------------------------------------------


@functools.cache
def _field_type(cls: type, wire_name: str) -> Any:
    hints = typing.get_type_hints(cls, include_extras=True)
    for field in msgspec.structs.fields(cls):
        if field.encode_name == wire_name:
            return hints[field.name]
    return Any


def _strip_optional(tp: Any) -> Any:
    if _is_union(tp):
        args = tuple(a for a in typing.get_args(tp) if a is not type(None) and a is not msgspec.UnsetType)
        if len(args) == 1:
            return args[0]
        return Union[args]  # noqa: UP007 - rebuilding a union from a runtime tuple
    return tp


def _is_optional(tp: Any) -> bool:
    return _is_union(tp) and type(None) in typing.get_args(tp)


def _is_union(tp: Any) -> bool:
    import types

    return typing.get_origin(tp) in (Union, types.UnionType)


def _base(tp: Any) -> Any:
    if typing.get_origin(tp) is typing.Annotated:
        return typing.get_args(tp)[0]
    return tp


def _rust_kind(tp: Any) -> str | None:
    if typing.get_origin(tp) is typing.Annotated:
        for meta in typing.get_args(tp)[1:]:
            if isinstance(meta, msgspec.Meta) and meta.extra:
                return meta.extra.get("rust")
    return None


def _literal_values(tp: Any) -> list[str] | None:
    if typing.get_origin(tp) is Literal:
        return list(typing.get_args(tp))
    if _is_union(tp):
        values: list[str] = []
        for arg in typing.get_args(tp):
            if typing.get_origin(arg) is not Literal:
                return None
            values.extend(typing.get_args(arg))
        return values
    return None


@functools.cache
def _union_names() -> dict[frozenset[Any], str]:
    from messages import common, events, v1, v2

    names: dict[frozenset[Any], str] = {}
    for module in (common, events, v1, v2):
        for name, obj in vars(module).items():
            if _is_union(obj):
                names.setdefault(frozenset(typing.get_args(obj)), name)
    return names


def _tagged_union(tp: Any) -> tuple[str, dict[str, Any], str] | None:
    """(tag field, tag -> variant Struct, union name) when `tp` is a tagged union (or one tagged Struct)."""
    members = typing.get_args(tp) if _is_union(tp) else (tp,)
    if not members or not all(isinstance(m, type) and issubclass(m, msgspec.Struct) for m in members):
        return None
    configs = [m.__struct_config__ for m in members]
    if any(c.tag is None for c in configs):
        return None
    tag_field = configs[0].tag_field
    variants = {c.tag: m for c, m in zip(configs, members, strict=True)}
    if _is_union(tp):
        name = _union_names().get(frozenset(members), "enum")
    else:
        name = _union_names().get(frozenset(members), members[0].__name__)
    return tag_field, variants, name
