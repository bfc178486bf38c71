"""Schemathesis hooks for the property-based API test (api_property_test.py): one check beyond
schemathesis's own, that every error answer is in OpenAI's shape."""
import json

import schemathesis


@schemathesis.check
def openai_error_shape(ctx, response, case):
    """A 4xx or 5xx body is {"error": {"message", "type", "param", "code"}}: a non-empty message
    and type, param and code strings or null, nothing else."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} body is not JSON: {response.content[:200]!r}")
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or set(body) != {"error"}:
        raise AssertionError(f"{response.status_code} body is not {{'error': {{...}}}}: {body!r}")
    if set(error) != {"message", "type", "param", "code"}:
        raise AssertionError(f"error keys are {sorted(error)}, not message, type, param, code")
    if not (isinstance(error["message"], str) and error["message"]):
        raise AssertionError("error.message is not a non-empty string")
    if not (isinstance(error["type"], str) and error["type"]):
        raise AssertionError("error.type is not a non-empty string")
    for key in ("param", "code"):
        if error[key] is not None and not isinstance(error[key], str):
            raise AssertionError(f"error.{key} is neither a string nor null: {error[key]!r}")
    return None
