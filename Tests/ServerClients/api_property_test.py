"""Property-based API test: schemathesis generates requests, valid and invalid, from the server's
own /openapi.json and checks every answer: no 5xx, statuses and content types the document
lists, bodies that match its schemas, and errors in OpenAI's shape (schemathesis_hooks.py).

Usage: api_property_test.py BASE_URL MAX_EXAMPLES SEED

Only for the test's running time, the document is tightened before use: at most a few tokens,
choices and prompts per request, so no case runs long generations. The server's own limits stay
as they are; invalid cases still go past them (schemathesis's negative mode).
Prints the counts and exits non-zero on any failure."""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

# Upper bounds for the test's requests (fields of the completion routes).
TEST_LIMITS = {"max_tokens": 4, "max_completion_tokens": 4, "min_tokens": 4, "n": 2, "best_of": 2}
MAX_PROMPTS = 3


def tightened(doc):
    for name in ("CompletionRequest", "ChatCompletionRequest"):
        schema = doc["components"]["schemas"].get(name)
        if schema is None:
            continue
        props = schema["properties"]
        for field, limit in TEST_LIMITS.items():
            if field in props:
                props[field]["maximum"] = limit
        for choice in props.get("prompt", {}).get("oneOf", []):
            if choice["type"] == "array":
                choice["maxItems"] = MAX_PROMPTS
                if choice["items"].get("type") == "array":
                    choice["items"]["maxItems"] = MAX_PROMPTS
        if "messages" in props:
            props["messages"]["maxItems"] = MAX_PROMPTS
    # A paused engine would hold every generated request after it until the run timed out;
    # ServerRoutesTests covers the two routes.
    for path in ("/pause", "/resume"):
        doc["paths"].pop(path, None)
    return doc


def main():
    base, max_examples, seed = sys.argv[1], sys.argv[2], sys.argv[3]
    with urllib.request.urlopen(base + "/openapi.json") as r:
        doc = json.load(r)
    assert doc["openapi"].startswith("3."), doc.get("openapi")
    assert doc["paths"], "the document lists no paths"
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "openapi.json")
        with open(path, "w") as f:
            json.dump(tightened(doc), f)
        env = dict(os.environ, SCHEMATHESIS_HOOKS="schemathesis_hooks",
                   PYTHONPATH=here + os.pathsep + os.environ.get("PYTHONPATH", ""))
        command = [
            sys.executable, "-m", "schemathesis.cli", "run", path, "--url", base,
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                        "response_schema_conformance,openai_error_shape",
            "--phases", "examples,coverage,fuzzing", "--max-examples", max_examples, "--seed", seed,
            "--workers", "1", "--request-timeout", "60", "--no-color",
            "--suppress-health-check", "all",
        ]
        print(" ".join(command), flush=True)
        result = subprocess.run(command, env=env, cwd=tmp)
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
