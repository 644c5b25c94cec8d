"""Run by a client library's own virtualenv: sends every call type to the host it is given, as an app would.

    python send_all.py <library> <host> <write key> <sync|batch> <run id> [default-retries]

Prints one JSON line {"sent": n, "errors": [...]} and exits 1 if the library reported any failure. It imports
nothing from the project: only the library under test.
"""

from __future__ import annotations

import json
import sys


def client_class(library: str):
    if library == "segment-analytics-python":
        from segment.analytics import Client
    elif library == "analytics-python":
        from analytics import Client
    elif library == "rudder-sdk-python":
        from rudderstack.analytics import Client
    else:
        raise SystemExit(f"unknown library {library}")
    return Client


def main() -> int:
    library, host, key, mode, run = sys.argv[1:6]
    errors: list[str] = []

    def on_error(error, batch):
        errors.append(f"{type(error).__name__}: {error} ({len(batch)} messages)")

    # Few retries: a failure should show up as a failure, quickly, not as a long backoff; unless the test is about
    # retrying, when the library keeps its own default.
    retries = {} if sys.argv[6:7] == ["default-retries"] else {"max_retries": 1}
    client = client_class(library)(key, host=host, sync_mode=mode == "sync", on_error=on_error, **retries)
    user, anon = f"{run}-user", f"{run}-anon"
    calls = [
        lambda: client.page(anonymous_id=anon, name="Home", properties={"path": "/"}, message_id=f"{run}-1"),
        lambda: client.track(anonymous_id=anon, event="Viewed Pricing", message_id=f"{run}-2"),
        lambda: client.identify(
            user_id=user, traits={"name": "Arthur Dent", "email": f"{run}@example.com"}, message_id=f"{run}-3"
        ),
        lambda: client.track(user_id=user, event="Signed Up", properties={"plan": "pro"}, message_id=f"{run}-4"),
        lambda: client.screen(user_id=user, name="Settings", message_id=f"{run}-5"),
        lambda: client.group(user_id=user, group_id="g-1", traits={"name": "Team"}, message_id=f"{run}-6"),
        lambda: client.alias(previous_id=anon, user_id=user, message_id=f"{run}-7"),
    ]
    sent = 0
    for call in calls:
        try:
            call()
            sent += 1
        except Exception as exc:  # sync mode raises the library's APIError
            errors.append(f"{type(exc).__name__}: {exc}")
    if mode != "sync":  # sync mode has no consumer thread to wait for
        client.flush()
        client.join()
    print(json.dumps({"sent": sent, "errors": errors}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
