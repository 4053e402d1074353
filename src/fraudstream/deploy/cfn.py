"""CloudFormation create-or-update through change sets, waiting with progress, and reading outputs.

Change sets rather than ``create_stack``/``update_stack``: the same call path creates and updates,
and the list of changes tells the progress bar how much work there is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
IN_PROGRESS_SUFFIX = "_IN_PROGRESS"
GOOD_END = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
NO_CHANGE_MARKERS = ("didn't contain changes", "No updates are to be performed", "no changes")


class DeployError(RuntimeError):
    """The stack did not reach a good state; the message lists the failed resources' reasons."""


@dataclass
class StackEvent:
    """One resource status change, as shown to the user."""

    logical_id: str
    resource_type: str
    status: str
    reason: str = ""


@dataclass
class StackResult:
    """Where a deploy ended: status, outputs, and whether anything changed."""

    name: str
    status: str
    outputs: dict[str, str] = field(default_factory=dict)
    changed: bool = True
    changes: int = 0


Listener = Callable[[str, Any], None]  # ("changes", n) | ("event", StackEvent) | ("status", str)


def describe_stack(cfn: Any, name: str) -> dict[str, Any] | None:
    """The stack's description, or None when it does not exist (or is fully deleted)."""
    from botocore.exceptions import ClientError

    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    stack = stacks[0] if stacks else None
    if stack is None or stack["StackStatus"] == "DELETE_COMPLETE":
        return None
    return stack


def outputs_of(stack: dict[str, Any] | None) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}


def deploy_stack(
    cfn: Any,
    name: str,
    template: dict[str, str],
    parameters: dict[str, str],
    *,
    listener: Listener | None = None,
    poll_seconds: float = 2.0,
    timeout_seconds: float = 3 * 3600,
    tags: dict[str, str] | None = None,
    defaults: dict[str, str] | None = None,
) -> StackResult:
    """Create or update ``name`` from ``template`` (``TemplateBody`` or ``TemplateURL``) and wait.

    ``defaults`` are the template's parameter defaults: on update, a previous value equal to its
    default is not re-sent (the default applies), so only values someone chose are carried over."""
    from botocore.exceptions import ClientError

    notify = listener or (lambda _kind, _value: None)
    existing = describe_stack(cfn, name)
    if existing is not None and existing["StackStatus"] == "ROLLBACK_COMPLETE":
        notify("status", "previous create failed (ROLLBACK_COMPLETE): deleting it first")
        delete_stack(cfn, name, listener=listener, poll_seconds=poll_seconds)
        existing = None
    creating = existing is None or existing["StackStatus"] == "REVIEW_IN_PROGRESS"
    if existing is not None and existing["StackStatus"].endswith(IN_PROGRESS_SUFFIX) and not creating:
        raise DeployError(f"stack {name} is busy ({existing['StackStatus']}); wait for it to finish")

    params = _parameters(parameters, existing, defaults or {})
    change_set_name = f"fraudstream-{int(time.time() * 1000)}"
    try:
        cfn.create_change_set(
            StackName=name,
            ChangeSetName=change_set_name,
            ChangeSetType="CREATE" if creating else "UPDATE",
            Parameters=params,
            Capabilities=CAPABILITIES,
            Tags=[{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())],
            **template,
        )
    except ClientError as exc:  # some emulators refuse an empty change set up front
        if creating or not _no_changes(str(exc)):
            raise
        return _unchanged(cfn, name, notify)
    change_set = _wait_change_set(cfn, name, change_set_name, poll_seconds, timeout_seconds)
    if change_set["Status"] == "FAILED":
        reason = change_set.get("StatusReason", "")
        if not creating and _no_changes(reason):  # AWS: the change set fails with "didn't contain changes"
            cfn.delete_change_set(StackName=name, ChangeSetName=change_set_name)
            return _unchanged(cfn, name, notify)
        raise DeployError(f"change set for {name} failed: {reason}")

    changes = len(change_set.get("Changes", []))
    notify("changes", changes)
    started = time.time()
    cfn.execute_change_set(StackName=name, ChangeSetName=change_set_name)
    stack = _wait_stack(cfn, name, started, notify, poll_seconds, timeout_seconds)
    status = stack["StackStatus"]
    if status not in GOOD_END:
        raise DeployError(f"stack {name} ended in {status}: {_failure_reasons(cfn, name, started)}")
    return StackResult(name, status, outputs_of(stack), changed=True, changes=changes)


def _parameters(given: dict[str, str], existing: dict[str, Any] | None, defaults: dict[str, str]):
    """Given values, plus the stack's previous non-default values for the rest (an update never
    silently resets a chosen value). Previous values are re-sent explicitly, which every emulator
    understands; only masked NoEcho values fall back to ``UsePreviousValue``."""
    params = [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in sorted(given.items())]
    for previous in sorted((existing or {}).get("Parameters", []), key=lambda p: p["ParameterKey"]):
        key, value = previous["ParameterKey"], previous.get("ParameterValue")
        if key in given or (key in defaults and defaults[key] == value):
            continue
        if value is None or value == "****":
            params.append({"ParameterKey": key, "UsePreviousValue": True})
        else:
            params.append({"ParameterKey": key, "ParameterValue": value})
    return params


def _no_changes(message: str) -> bool:
    return any(marker in message for marker in NO_CHANGE_MARKERS)


def _unchanged(cfn: Any, name: str, notify: Listener) -> StackResult:
    stack = describe_stack(cfn, name)
    notify("status", "no changes")
    return StackResult(name, stack["StackStatus"] if stack else "?", outputs_of(stack), changed=False)


def delete_stack(cfn: Any, name: str, *, listener: Listener | None = None, poll_seconds: float = 2.0) -> bool:
    """Delete ``name`` and wait; False when there was nothing to delete."""
    notify = listener or (lambda _kind, _value: None)
    if describe_stack(cfn, name) is None:
        return False
    started = time.time()
    seen: set[str] = set()
    cfn.delete_stack(StackName=name)
    while True:
        stack = describe_stack(cfn, name)
        _emit_events(cfn, name, started, notify, seen)
        if stack is None:
            return True
        if stack["StackStatus"] == "DELETE_FAILED":
            raise DeployError(f"deleting {name} failed: {_failure_reasons(cfn, name, started)}")
        notify("status", stack["StackStatus"])
        time.sleep(poll_seconds)


def _wait_change_set(cfn: Any, name: str, change_set: str, poll: float, timeout: float) -> dict[str, Any]:
    deadline = time.time() + timeout
    while True:
        desc = cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
        if desc["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return desc
        if time.time() > deadline:
            raise DeployError(f"change set {change_set} still {desc['Status']} after {timeout:.0f}s")
        time.sleep(poll)


def _wait_stack(cfn: Any, name: str, started: float, notify: Listener, poll: float, timeout: float) -> dict:
    deadline = time.time() + timeout
    seen: set[str] = set()
    while True:
        stack = describe_stack(cfn, name)
        if stack is None:
            raise DeployError(f"stack {name} disappeared while deploying")
        _emit_events(cfn, name, started, notify, seen)
        status = stack["StackStatus"]
        notify("status", status)
        if not status.endswith(IN_PROGRESS_SUFFIX):
            return stack
        if time.time() > deadline:
            raise DeployError(f"stack {name} still {status} after {timeout:.0f}s")
        time.sleep(poll)


def _recent_events(cfn: Any, name: str, started: float) -> list[dict[str, Any]]:
    """Events of this operation (newest first from the API), oldest first here."""
    events = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=name):
        for event in page["StackEvents"]:
            if event["Timestamp"].timestamp() < started - 1:
                return list(reversed(events))
            events.append(event)
    return list(reversed(events))


def _emit_events(cfn: Any, name: str, started: float, notify: Listener, seen: set[str]) -> None:
    from botocore.exceptions import ClientError

    try:
        events = _recent_events(cfn, name, started)
    except ClientError:
        return  # the stack is gone (end of a delete)
    for event in events:
        if event["EventId"] in seen:
            continue
        seen.add(event["EventId"])
        notify(
            "event",
            StackEvent(
                event.get("LogicalResourceId", ""),
                event.get("ResourceType", ""),
                event.get("ResourceStatus", ""),
                event.get("ResourceStatusReason", "") or "",
            ),
        )


def _failure_reasons(cfn: Any, name: str, started: float) -> str:
    from botocore.exceptions import ClientError

    try:
        events = _recent_events(cfn, name, started)
    except ClientError:
        return "(no events)"
    failed = [
        f"{e.get('LogicalResourceId')} {e.get('ResourceStatus')}: {e.get('ResourceStatusReason', '')}"
        for e in events
        if e.get("ResourceStatus", "").endswith("_FAILED")
    ]
    return "; ".join(failed) or "(no failed resource reported)"
