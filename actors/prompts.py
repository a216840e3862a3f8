"""What we tell the model besides the conversation: our own base instructions, the tool list
(CONVERSATIONS.md §4.4, names and parameter schemas as 0.58, descriptions our own), and the
initial-context messages (§4.1: developer instructions, AGENTS.md, environment context)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# Written for this project; deliberately not Codex's prompt.
BASE_INSTRUCTIONS = """\
You are a software engineering agent working inside a user's project through an IDE.

How to work:
- Read before you change. Use the `shell` tool to inspect files and run commands; pass the command \
as an argument list, and set `workdir` instead of using `cd`.
- Keep changes focused on what was asked. Match the existing style of the code you edit.
- When a task has several steps, keep a short plan with `update_plan` and update it as you go.
- Verify your work when you can (run the tests or the program), and say plainly what you could not verify.
- Commands may run in a sandbox and may need the user's approval; if something is refused, \
explain what you needed and continue with what you can do.

How to answer:
- Be brief and concrete. Lead with the outcome, then the details that matter.
- Refer to files by path. Show code only when it helps the user act on it.
"""


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def _function(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "name": name, "description": description, "strict": False, "parameters": parameters}


SHELL_TOOL = _function(
    "shell",
    "Run a command (an argument list, not a shell string) and return its combined output and exit code.",
    _object(
        {
            "command": {"type": "array", "items": {"type": "string"}, "description": "Program and its arguments."},
            "justification": {
                "type": "string",
                "description": "Why the command must run outside the sandbox (with with_escalated_permissions).",
            },
            "timeout_ms": {"type": "number", "description": "Time limit in milliseconds."},
            "with_escalated_permissions": {
                "type": "boolean",
                "description": "Ask to run the command outside the sandbox.",
            },
            "workdir": {"type": "string", "description": "Directory to run in; defaults to the session's cwd."},
        },
        ["command"],
    ),
)

_MCP_SERVER = {"type": "string", "description": "Name of a configured MCP server; all servers when omitted."}
_MCP_CURSOR = {"type": "string", "description": "Cursor from a previous call, for the next page."}

LIST_MCP_RESOURCES_TOOL = _function(
    "list_mcp_resources",
    "List the resources (files, records, documents) that configured MCP servers expose.",
    _object({"cursor": _MCP_CURSOR, "server": _MCP_SERVER}),
)
LIST_MCP_RESOURCE_TEMPLATES_TOOL = _function(
    "list_mcp_resource_templates",
    "List the parameterised resource templates that configured MCP servers expose.",
    _object({"cursor": _MCP_CURSOR, "server": _MCP_SERVER}),
)
READ_MCP_RESOURCE_TOOL = _function(
    "read_mcp_resource",
    "Read one resource from an MCP server by its URI.",
    _object(
        {
            "server": {"type": "string", "description": "The MCP server that listed the resource."},
            "uri": {"type": "string", "description": "The resource URI, as listed."},
        },
        ["server", "uri"],
    ),
)
UPDATE_PLAN_TOOL = _function(
    "update_plan",
    "Record the current plan: a list of steps with their status (pending, in_progress, completed).",
    _object(
        {
            "explanation": {"type": "string"},
            "plan": {
                "type": "array",
                "items": _object(
                    {
                        "status": {"type": "string", "description": "pending, in_progress or completed"},
                        "step": {"type": "string"},
                    },
                    ["step", "status"],
                ),
                "description": "The steps, in order.",
            },
        },
        ["plan"],
    ),
)
VIEW_IMAGE_TOOL = _function(
    "view_image",
    "Show the model a local image file so it can look at it in this turn.",
    _object({"path": {"type": "string", "description": "Path of the image file."}}, ["path"]),
)


def tools() -> list[dict[str, Any]]:
    """0.58's tool list for an unknown model family, in its order (apply_patch arrives with the
    approvals issue; it is not offered until it can run)."""
    return [
        SHELL_TOOL,
        LIST_MCP_RESOURCES_TOOL,
        LIST_MCP_RESOURCE_TEMPLATES_TOOL,
        READ_MCP_RESOURCE_TOOL,
        UPDATE_PLAN_TOOL,
        VIEW_IMAGE_TOOL,
    ]


# -- initial context ------------------------------------------------------------------------------
def sandbox_mode(policy: dict[str, Any]) -> str:
    return str(policy.get("mode", "read-only"))


def network_access(policy: dict[str, Any]) -> str:
    mode = sandbox_mode(policy)
    if mode == "danger-full-access":
        return "enabled"
    if mode == "workspace-write" and policy.get("network_access"):
        return "enabled"
    return "restricted"


def user_shell_name() -> str | None:
    shell = os.environ.get("SHELL")
    if not shell:
        return None
    return Path(shell).name or None


def environment_context(
    cwd: str | None,
    approval_policy: str | None,
    sandbox_policy: dict[str, Any] | None,
    shell: str | None,
) -> str:
    """The `<environment_context>` block; fields given as None are left out (the per-turn diff)."""
    lines = ["<environment_context>"]
    if cwd is not None:
        lines.append(f"  <cwd>{cwd}</cwd>")
    if approval_policy is not None:
        lines.append(f"  <approval_policy>{approval_policy}</approval_policy>")
    if sandbox_policy is not None:
        lines.append(f"  <sandbox_mode>{sandbox_mode(sandbox_policy)}</sandbox_mode>")
        lines.append(f"  <network_access>{network_access(sandbox_policy)}</network_access>")
    if shell is not None:
        lines.append(f"  <shell>{shell}</shell>")
    lines.append("</environment_context>")
    return "\n".join(lines)


def user_text_message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def developer_message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": text}]}


def read_agents_md(cwd: Path) -> str | None:
    try:
        return (cwd / "AGENTS.md").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def agents_md_message(cwd: Path, text: str) -> dict[str, Any]:
    return user_text_message(f"# AGENTS.md instructions for {cwd}\n\n<INSTRUCTIONS>\n{text}\n</INSTRUCTIONS>")


def initial_context(
    cwd: Path,
    approval_policy: str,
    sandbox_policy: dict[str, Any],
    developer_instructions: str | None,
    agents_md: str | None,
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if developer_instructions:
        items.append(developer_message(developer_instructions))
    if agents_md is not None:
        items.append(agents_md_message(cwd, agents_md))
    items.append(user_text_message(environment_context(str(cwd), approval_policy, sandbox_policy, user_shell_name())))
    return items
