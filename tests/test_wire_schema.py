"""Every wire type encodes to JSON that 0.58's own schema accepts, fully populated and minimal."""

from __future__ import annotations

import copy
import json
import typing
from pathlib import Path
from typing import Any, Literal

import jsonschema
import msgspec
import pytest

from messages import catalog, common, events, notifications, server_requests, v1, v2
from messages.decode import _is_union, _rust_kind

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "shared" / "protocol" / "schema"
if not SCHEMA_DIR.is_dir():
    SCHEMA_DIR = Path("/work/shared/protocol/schema")

UUID = "01a20b1c-2dc0-75c1-8229-94f813206ed2"

# Definitions that are not message types we model: envelopes (messages/jsonrpc.py builds them) and the
# method unions (catalog.py is their table).
NOT_MODELLED = {"ClientNotification", "ClientRequest", "ServerNotification", "ServerRequest", "Option<()>",
                "JSONRPCError", "JSONRPCErrorError", "JSONRPCMessage", "JSONRPCNotification", "JSONRPCRequest",
                "JSONRPCResponse", "RequestId", "ConversationId", "GitSha"}

# Types no module models, with the reason. Must stay empty unless a reason is written here.
UNCOVERED: dict[str, str] = {}


def _load_definitions() -> dict[str, Any]:
    defs = json.loads((SCHEMA_DIR / "codex_app_server_protocol.schemas.json").read_text())["definitions"]
    defs = copy.deepcopy(defs)
    # Where the schema disagrees with what 0.58 writes, the wire wins; each patch says why.
    # 1. The bundle's EventMsg points at v2/ twins of core types (v2/RateLimitSnapshot is camelCase, the
    #    event is snake_case); the standalone EventMsg.json is right.
    defs["EventMsg"] = json.loads(json.dumps(defs["EventMsg"]).replace("#/definitions/v2/", "#/definitions/"))
    # 2. v2/TurnStartParams refers to v2/SandboxPolicy, which the bundle lacks. 0.58 takes camelCase modes
    #    with snake_case fields, all defaulted (checked on the binary).
    v2_policy = json.loads(
        json.dumps(defs["SandboxPolicy"]).replace('"danger-full-access"', '"dangerFullAccess"')
        .replace('"read-only"', '"readOnly"').replace('"workspace-write"', '"workspaceWrite"')
    )
    defs["v2"]["SandboxPolicy"] = v2_policy
    for scope in (defs, defs["v2"]):
        items = scope["ResponseItem"]["oneOf"]
        for item in items:
            props = item["properties"]
            # 3. `id` is read but never written (serde skip_serializing; schemars marks it writeOnly).
            if isinstance(props.get("id"), dict) and props["id"].get("writeOnly"):
                item["required"] = [r for r in item.get("required", []) if r != "id"]
            # 4. FunctionCallOutputPayload serializes as its text (or its content items), not as an object.
            if item.get("title") == "FunctionCallOutputResponseItem":
                props["output"] = {"type": ["string", "array"]}
    return defs


DEFS = _load_definitions()


def _validator(ref: str) -> jsonschema.Draft7Validator:
    schema = {"$ref": ref, "definitions": DEFS}
    return jsonschema.Draft7Validator(schema)


def _find(name: str, scope: str) -> Any:
    modules = (v2, notifications, common) if scope == "v2" else (
        notifications, server_requests, v1, events, common)
    for module in modules:
        obj = vars(module).get(name)
        if obj is not None and _defined_in(obj, module.__name__):
            return obj
    return None


def _defined_in(obj: Any, module_name: str) -> bool:
    """Whether `obj` belongs to that module rather than being imported into it."""
    if isinstance(obj, type):
        return obj.__module__ == module_name
    structs = [m for m in typing.get_args(obj) if isinstance(m, type)]
    return all(m.__module__ == module_name for m in structs)


# --- sample values from the type annotations -------------------------------------------------------


def _sample(tp: Any, full: bool, depth: int = 0) -> Any:
    if typing.get_origin(tp) is typing.Annotated:
        kind = _rust_kind(tp)
        base = typing.get_args(tp)[0]
        if kind in ("ConversationId", "Uuid"):
            return UUID
        if kind == "PathBuf":
            return "/tmp/work"
        return _sample(base, full, depth)
    if tp is Any:
        return {"any": [1, "two"]}
    if tp is str:
        return "text"
    if tp is bool:
        return True
    if tp is int:
        return 7
    if tp is float:
        return 1.5
    origin = typing.get_origin(tp)
    if origin is Literal:
        return typing.get_args(tp)[0]
    if origin is list:
        if depth > 4:
            return []
        return [_sample(typing.get_args(tp)[0], full, depth + 1)]
    if origin is dict:
        return {"/tmp/work/key": _sample(typing.get_args(tp)[1], full, depth + 1)}
    if _is_union(tp):
        args = [a for a in typing.get_args(tp) if a not in (type(None), msgspec.UnsetType)]
        structs = [a for a in args if isinstance(a, type) and issubclass(a, msgspec.Struct)]
        pick = structs[0] if (structs and (full or len(structs) == len(args))) else args[0]
        return _sample(pick, full, depth)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return _instance(tp, full, depth)
    raise AssertionError(f"no sample for {tp!r}")


def _instance(cls: type, full: bool, depth: int = 0) -> Any:
    hints = typing.get_type_hints(cls, include_extras=True)
    kwargs: dict[str, Any] = {}
    fields = msgspec.structs.fields(cls)
    one_of = (cls.__doc__ or "").startswith(("Externally tagged", "Untagged"))
    for field in fields:
        required = field.required
        if one_of:
            if field is fields[0] or (cls is common.EmbeddedResourceResource and field.name == "text"):
                kwargs[field.name] = _sample(_strip_none(hints[field.name]), full, depth + 1)
            continue
        if required or (full and depth < 4):
            kwargs[field.name] = _sample(hints[field.name], full, depth + 1)
    return cls(**kwargs)


def _strip_none(tp: Any) -> Any:
    if _is_union(tp):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _members(obj: Any) -> list[Any]:
    """The concrete things to encode for a definition: each union member, or the Struct itself."""
    if isinstance(obj, type) and issubclass(obj, msgspec.Struct):
        return [obj]
    if typing.get_origin(obj) is Literal:
        return [("literal", v) for v in typing.get_args(obj)]
    if _is_union(obj):
        out: list[Any] = []
        for arg in typing.get_args(obj):
            out.extend(_members(arg))
        return out
    raise AssertionError(f"cannot enumerate {obj!r}")


def _cases() -> list[tuple[str, str, Any]]:
    cases = []
    for scope, names in (("top", [n for n in DEFS if n != "v2"]), ("v2", list(DEFS["v2"]))):
        for name in names:
            if name in NOT_MODELLED:
                continue
            ref = f"#/definitions/{'v2/' if scope == 'v2' else ''}{name}"
            cases.append((ref, name, _find(name, scope)))
    return cases


CASES = _cases()


def test_every_schema_definition_is_modelled() -> None:
    missing = sorted(name for _, name, obj in CASES if obj is None and name not in UNCOVERED)
    assert missing == []


@pytest.mark.parametrize(("ref", "name", "obj"), [c for c in CASES if c[2] is not None], ids=lambda v: v
                         if isinstance(v, str) and v.startswith("#") else "")
def test_encoded_instances_match_the_schema(ref: str, name: str, obj: Any) -> None:
    validator = _validator(ref)
    for member in _members(obj):
        if isinstance(member, tuple):
            instances = [member[1]]
        else:
            instances = [_instance(member, full=True), _instance(member, full=False)]
        for instance in instances:
            wire = json.loads(msgspec.json.encode(instance))
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(wire)]
            assert errors == [], f"{name} {wire}"
            if not isinstance(member, tuple):
                again = msgspec.json.decode(msgspec.json.encode(instance), type=obj)
                assert again == instance


def test_event_payloads_match_the_standalone_event_schema() -> None:
    schema = json.loads((SCHEMA_DIR / "EventMsg.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    members = _members(events.EventMsg)
    assert len(members) == 46
    tags = set()
    for member in members:
        for full in (True, False):
            wire = json.loads(msgspec.json.encode(_instance(member, full=full)))
            tags.add(wire["type"])
            assert [e.message for e in validator.iter_errors(wire)] == [], wire
    assert len(tags) == 46


def test_methods_beyond_058_validate_against_our_generated_schema() -> None:
    generated = catalog.schema_for_generation()
    for name in ("v2/CompleteLoginAccountParams", "v2/CompleteLoginAccountResponse"):
        validator = jsonschema.Draft202012Validator(generated[name])
        cls = _find(name.split("/")[1], "v2")
        for full in (True, False):
            wire = json.loads(msgspec.json.encode(_instance(cls, full=full)))
            assert list(validator.iter_errors(wire)) == []
    assert not jsonschema.Draft202012Validator(generated["v2/CompleteLoginAccountParams"]).is_valid({"loginId": "x"})


def test_generated_schemas_cover_every_request_and_notification_type() -> None:
    generated = catalog.schema_for_generation()
    titles = {doc["title"] for doc in generated.values()}
    for params, result in catalog.CLIENT_REQUESTS.values():
        for tp in (params, result):
            if isinstance(tp, type):
                assert tp.__name__ in titles
    for tp in catalog.SERVER_NOTIFICATIONS.values():
        assert tp.__name__ in titles
    for doc in generated.values():
        jsonschema.Draft202012Validator.check_schema(doc)


def test_catalog_lists_0_58_methods_in_order() -> None:
    expected = ("initialize thread/start thread/resume thread/archive thread/list thread/compact turn/start "
                "turn/interrupt model/list account/login/start account/login/cancel account/logout "
                "account/rateLimits/read feedback/upload account/read newConversation getConversationSummary "
                "listConversations resumeConversation archiveConversation sendUserMessage sendUserTurn "
                "interruptConversation addConversationListener removeConversationListener gitDiffToRemote "
                "loginApiKey loginChatGpt cancelLoginChatGpt logoutChatGpt getAuthStatus getUserSavedConfig "
                "setDefaultModel getUserAgent userInfo fuzzyFileSearch execOneOffCommand").split()
    assert list(catalog.CLIENT_REQUESTS)[:37] == expected
    assert list(catalog.CLIENT_REQUESTS)[37:] == ["account/login/complete"]
    no_params = [m for m, (p, _) in catalog.CLIENT_REQUESTS.items() if p is None]
    assert no_params == ["account/logout", "account/rateLimits/read", "loginChatGpt", "logoutChatGpt",
                         "getUserSavedConfig", "getUserAgent", "userInfo"]
    request_schema = json.loads((SCHEMA_DIR / "ClientRequest.json").read_text())
    methods = [v["properties"]["method"]["enum"][0] for v in request_schema["oneOf"]]
    assert methods == expected
    notification_schema = json.loads((SCHEMA_DIR / "ServerNotification.json").read_text())
    assert [v["properties"]["method"]["enum"][0] for v in notification_schema["oneOf"]] == list(
        catalog.SERVER_NOTIFICATIONS)
    server_request_schema = json.loads((SCHEMA_DIR / "ServerRequest.json").read_text())
    assert sorted(v["properties"]["method"]["enum"][0] for v in server_request_schema["oneOf"]) == sorted(
        catalog.SERVER_REQUESTS)


# --- key order and omission, as 0.58 writes them ---------------------------------------------------


def test_output_key_order_follows_the_rust_structs() -> None:
    summary = v1.ConversationSummary(
        conversation_id=UUID, path="/p", preview="hi", timestamp=None, model_provider="openai", cwd="/w",
        cli_version="0.58.0", source="vscode", git_info=v1.ConversationGitInfo(sha="s", branch=None,
                                                                                origin_url="u"))
    assert msgspec.json.encode(summary) == (
        b'{"conversationId":"' + UUID.encode() + b'","path":"/p","preview":"hi","timestamp":null,'
        b'"modelProvider":"openai","cwd":"/w","cliVersion":"0.58.0","source":"vscode",'
        b'"gitInfo":{"sha":"s","branch":null,"origin_url":"u"}}')
    thread = v2.Thread(id="t", preview="p", model_provider="m", created_at=1, path="/x")
    assert list(json.loads(msgspec.json.encode(thread))) == ["id", "preview", "modelProvider", "createdAt", "path"]
    status = v1.GetAuthStatusResponse(auth_method="apikey", auth_token=None, requires_openai_auth=True)
    assert msgspec.json.encode(status) == b'{"authMethod":"apikey","authToken":null,"requiresOpenaiAuth":true}'
    end = events.ExecCommandEndEvent(call_id="c", stdout="42\n", stderr="", aggregated_output="42\n", exit_code=0,
                                     duration=common.Duration(secs=0, nanos=5), formatted_output="42\n")
    assert list(json.loads(msgspec.json.encode(end))) == [
        "type", "call_id", "stdout", "stderr", "aggregated_output", "exit_code", "duration", "formatted_output"]
    assert b'"duration":{"secs":0,"nanos":5}' in msgspec.json.encode(end)


def test_fields_0_58_omits_are_left_out_and_nulls_it_writes_are_kept() -> None:
    event = events.ExecApprovalRequestEvent(call_id="c", command=["ls"], cwd="/w", reason=None, parsed_cmd=[])
    assert msgspec.json.encode(event) == (
        b'{"type":"exec_approval_request","call_id":"c","command":["ls"],"cwd":"/w","parsed_cmd":[]}')
    request = server_requests.ExecCommandApprovalParams(conversation_id=UUID, call_id="c", command=["ls"], cwd="/w",
                                                        parsed_cmd=[])
    assert b'"reason":null,"risk":null,"parsedCmd":[]' in msgspec.json.encode(request)
    patch = server_requests.ApplyPatchApprovalParams(
        conversation_id=UUID, call_id="p",
        file_changes={"/w/a": common.FileChange(update=common.UpdateFileChange(unified_diff="@@"))})
    assert msgspec.json.encode(patch).endswith(
        b'"fileChanges":{"/w/a":{"update":{"unified_diff":"@@","move_path":null}}},"reason":null,"grantRoot":null}')
    policy = common.WorkspaceWriteSandboxPolicy(writable_roots=[])
    assert msgspec.json.encode(policy) == (
        b'{"mode":"workspace-write","network_access":false,"exclude_tmpdir_env_var":false,"exclude_slash_tmp":false}')
    assert msgspec.json.encode(common.ReadOnlySandboxPolicy()) == b'{"mode":"read-only"}'
    assert msgspec.json.encode(events.TaskStartedEvent()) == b'{"type":"task_started","model_context_window":null}'
    assert msgspec.json.encode(events.ShutdownCompleteEvent()) == b'{"type":"shutdown_complete"}'
    login = notifications.AccountLoginCompletedNotification(login_id=None, success=True, error=None)
    assert msgspec.json.encode(login) == b'{"loginId":null,"success":true,"error":null}'
    item = events.ItemStartedEvent(thread_id=UUID, turn_id="0", item=common.TurnItem(
        agent_message=common.AgentMessageItem(id="msg_1", content=[])))
    assert msgspec.json.encode(item).endswith(b'"item":{"AgentMessage":{"id":"msg_1","content":[]}}}')


def test_event_notification_envelope_order() -> None:
    note = notifications.EventNotification(id="0", msg=events.AgentMessageEvent(message="Hello"),
                                           conversation_id=UUID)
    assert msgspec.json.encode(note) == (
        b'{"id":"0","msg":{"type":"agent_message","message":"Hello"},"conversationId":"' + UUID.encode() + b'"}')


# Payloads the 0.58.0 binary wrote (a mock model turn, and a config/listing session): decoding them and
# encoding again must give the very same bytes (key order, nulls kept, keys left out).
CAPTURED_058: list[tuple[str, str, str]] = [
    ("notification", "codex/event/task_started",
     "{\"id\":\"0\",\"msg\":{\"type\":\"task_started\",\"model_context_window\":null},\"conversationId\":\"01a2"
     "0f8a-1385-7c12-9cbf-8b182857315d\"}"),
    ("notification", "codex/event/item_started",
     "{\"id\":\"0\",\"msg\":{\"type\":\"item_started\",\"thread_id\":\"01a20f8a-1385-7c12-9cbf-8b182857315d\","
     "\"turn_id\":\"0\",\"item\":{\"UserMessage\":{\"id\":\"ae569955-c453-4fcf-b4fa-84a8b2cc087c\",\"content\""
     ":[{\"type\":\"text\",\"text\":\"hi\"}]}}},\"conversationId\":\"01a20f8a-1385-7c12-9cbf-8b182857315d\"}"),
    ("notification", "item/started",
     "{\"item\":{\"type\":\"userMessage\",\"id\":\"ae569955-c453-4fcf-b4fa-84a8b2cc087c\",\"content\":[{\"typ"
     "e\":\"text\",\"text\":\"hi\"}]}}"),
    ("notification", "codex/event/item_completed",
     "{\"id\":\"0\",\"msg\":{\"type\":\"item_completed\",\"thread_id\":\"01a20f8a-1385-7c12-9cbf-8b182857315d"
     "\",\"turn_id\":\"0\",\"item\":{\"UserMessage\":{\"id\":\"ae569955-c453-4fcf-b4fa-84a8b2cc087c\",\"conten"
     "t\":[{\"type\":\"text\",\"text\":\"hi\"}]}}},\"conversationId\":\"01a20f8a-1385-7c12-9cbf-8b182857315d"
     "\"}"),
    ("notification", "codex/event/user_message",
     "{\"id\":\"0\",\"msg\":{\"type\":\"user_message\",\"message\":\"hi\",\"images\":[]},\"conversationId\":\"01a20"
     "f8a-1385-7c12-9cbf-8b182857315d\"}"),
    ("notification", "codex/event/token_count",
     "{\"id\":\"0\",\"msg\":{\"type\":\"token_count\",\"info\":null,\"rate_limits\":{\"primary\":{\"used_percent\""
     ":12.5,\"window_minutes\":300,\"resets_at\":null},\"secondary\":null}},\"conversationId\":\"01a20f8a"
     "-1385-7c12-9cbf-8b182857315d\"}"),
    ("notification", "account/rateLimits/updated",
     "{\"rateLimits\":{\"primary\":{\"usedPercent\":13,\"windowDurationMins\":300,\"resetsAt\":null},\"seco"
     "ndary\":null}}"),
    ("notification", "codex/event/agent_message_content_delta",
     "{\"id\":\"0\",\"msg\":{\"type\":\"agent_message_content_delta\",\"thread_id\":\"01a20f8a-1385-7c12-9cbf"
     "-8b182857315d\",\"turn_id\":\"0\",\"item_id\":\"msg_1\",\"delta\":\"Hel\"},\"conversationId\":\"01a20f8a-1"
     "385-7c12-9cbf-8b182857315d\"}"),
    ("notification", "codex/event/plan_update",
     "{\"id\":\"0\",\"msg\":{\"type\":\"plan_update\",\"explanation\":null,\"plan\":[{\"step\":\"a\",\"status\":\"pen"
     "ding\"}]},\"conversationId\":\"01a20f8a-1385-7c12-9cbf-8b182857315d\"}"),
    ("notification", "codex/event/task_complete",
     "{\"id\":\"0\",\"msg\":{\"type\":\"task_complete\",\"last_agent_message\":\"Hello\"},\"conversationId\":\"01"
     "a20f8a-1385-7c12-9cbf-8b182857315d\"}"),
    ("result", "getUserSavedConfig",
     "{\"config\":{\"approvalPolicy\":null,\"sandboxMode\":null,\"sandboxSettings\":null,\"forcedChatgptW"
     "orkspaceId\":null,\"forcedLoginMethod\":null,\"model\":\"mock-model\",\"modelReasoningEffort\":null"
     ",\"modelReasoningSummary\":null,\"modelVerbosity\":null,\"tools\":null,\"profile\":null,\"profiles\""
     ":{\"p1\":{\"model\":\"x\",\"modelProvider\":null,\"approvalPolicy\":null,\"modelReasoningEffort\":null"
     ",\"modelReasoningSummary\":null,\"modelVerbosity\":null,\"chatgptBaseUrl\":null}}}}"),
    ("result", "model/list",
     "{\"data\":[{\"id\":\"gpt-5.1-codex\",\"model\":\"gpt-5.1-codex\",\"displayName\":\"gpt-5.1-codex\",\"desc"
     "ription\":\"Optimized for codex.\",\"supportedReasoningEfforts\":[{\"reasoningEffort\":\"low\",\"des"
     "cription\":\"Fastest responses with limited reasoning\"},{\"reasoningEffort\":\"medium\",\"descrip"
     "tion\":\"Dynamically adjusts reasoning based on the task\"},{\"reasoningEffort\":\"high\",\"descri"
     "ption\":\"Maximizes reasoning depth for complex or ambiguous problems\"}],\"defaultReasoningEf"
     "fort\":\"medium\",\"isDefault\":true}],\"nextCursor\":null}"),
    ("result", "account/read",
     "{\"account\":null,\"requiresOpenaiAuth\":false}"),
    ("result", "newConversation",
     "{\"conversationId\":\"01a20f89-cbe1-7212-8c4f-f0d375363988\",\"model\":\"mock-model\",\"reasoningEf"
     "fort\":null,\"rolloutPath\":\"/tmp/ch2/sessions/2026/11/24/rollout-2026-11-24T21-50-18-01a20f8"
     "9-cbe1-7212-8c4f-f0d375363988.jsonl\"}"),
    ("result", "fuzzyFileSearch",
     "{\"files\":[{\"root\":\"/tmp/ch2\",\"path\":\"auth.json\",\"file_name\":\"auth.json\",\"score\":36,\"indice"
     "s\":[0]}]}"),
]

@pytest.mark.parametrize(("kind", "name", "text"), CAPTURED_058, ids=[f"{c[1]}" for c in CAPTURED_058])
def test_captured_0_58_payloads_round_trip_byte_for_byte(kind: str, name: str, text: str) -> None:
    if kind == "result":
        tp = catalog.CLIENT_REQUESTS[name][1]
    elif name.startswith(catalog.EVENT_NOTIFICATION_PREFIX):
        tp = catalog.EVENT_NOTIFICATION
    else:
        tp = catalog.SERVER_NOTIFICATIONS[name]
    raw = text.encode()
    assert msgspec.json.encode(msgspec.json.decode(raw, type=tp)) == raw
