"""Runs in the braze-client virtualenv (not the project's): sends calls with the real library, prints results.

stdin: {"base": "http://127.0.0.1:PORT", "calls": [{"key": ..., "use_auth_header": true,
        "attributes": [...], "events": [...], "purchases": [...]}, ...]}
stdout: one JSON line, a list with, for each call, {"response": <what user_track returned>} or
        {"error": <exception class>, "args": [...], "reset_epoch_s": <for BrazeRateLimitError>}.
"""

import json
import sys

from braze.client import BrazeClient, BrazeClientError, BrazeRateLimitError


def main():
    request = json.load(sys.stdin)
    results = []
    for call in request["calls"]:
        client = BrazeClient(
            api_key=call["key"], api_url=request["base"], use_auth_header=call.get("use_auth_header", True)
        )
        try:
            response = client.user_track(
                attributes=call.get("attributes"), events=call.get("events"), purchases=call.get("purchases")
            )
            results.append({"response": response})
        except BrazeRateLimitError as exc:
            results.append({"error": "BrazeRateLimitError", "reset_epoch_s": exc.reset_epoch_s})
        except BrazeClientError as exc:
            results.append({"error": type(exc).__name__, "args": [a for a in exc.args]})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
