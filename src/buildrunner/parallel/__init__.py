"""BuildRunner parallel sessions: a plan of tasks run by worker processes on one machine or many.

Classes are imported on first use (PEP 562), so importing a submodule stays cheap.
"""

from buildrunner._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "SessionManager": "session_manager",
        "WorkerCoordinator": "worker_coordinator",
        "Worker": "worker",
        "Executor": "executor",
        "Dashboard": "dashboard",
        "Plan": "plan",
        "PlanTask": "plan",
        "load_plan": "plan",
        "Session": "models",
        "SessionStatus": "models",
        "SessionSummary": "models",
        "Task": "models",
        "WorkerHealth": "models",
    },
)
