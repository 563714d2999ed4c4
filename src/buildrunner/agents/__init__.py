"""BuildRunner agents: Claude Code, Codex and Gemini CLI (and custom agents) behind one small interface.

See `buildrunner.agents.base` for how the executor runs any of them. Classes are imported on
first use (PEP 562), so importing a submodule stays cheap.
"""

from buildrunner._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "Agent": "base",
        "AgentEvent": "base",
        "AgentMessage": "base",
        "AgentNotice": "base",
        "AgentProgress": "base",
        "AgentResult": "base",
        "AgentRun": "base",
        "FinalResult": "base",
        "Invocation": "base",
        "MalformedLine": "base",
        "SessionStarted": "base",
        "ToolCall": "base",
        "TurnStarted": "base",
        "UsageUpdate": "base",
        "TokenCounts": "pricing",
        "token_cost": "pricing",
        "get_agent": "registry",
        "legacy_agent": "registry",
        "require_installed": "registry",
        "unpriced_models": "registry",
        "AgentsSettings": "settings",
    },
)
