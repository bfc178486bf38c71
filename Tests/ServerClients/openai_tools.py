"""Tool calling against a running Swiftlet server through the official `openai` package.

Run by Tests/SwiftletServerTests/ToolCallingClientTests.swift against SmolLM2 on loopback (its
template ignores tools, so the server adds its generic Hermes-style tool prompt):
    python3 openai_tools.py BASE_URL API_KEY MODEL
Checks that tool_choice "required" and a named function give calls whose arguments validate
against the function's parameters schema (`jsonschema`), every time; that a streamed call
assembles in the client into the same call; that tool messages go back into the conversation;
and that malformed tool requests are 400s. Prints one line per check; exits non-zero if any failed.
"""
import json
import sys

import jsonschema
import openai

base_url, api_key, model = sys.argv[1:4]
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=1800)  # a hang guard, not a speed bound


def function(name, description, parameters):
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


TOOLS = [
    function("get_weather", "Current weather in a city", {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 40}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"], "additionalProperties": False,
    }),
    function("add", "Add two integers", {
        "type": "object",
        "properties": {"a": {"type": "integer", "minimum": -1000, "maximum": 1000}, "b": {"type": "integer", "minimum": -1000, "maximum": 1000}},
        "required": ["a", "b"], "additionalProperties": False,
    }),
    function("book_flight", "Book a flight", {
        "type": "object",
        "properties": {
            "from": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "to": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "passengers": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string", "maxLength": 30}, "age": {"type": "integer", "minimum": 0, "maximum": 120}},
                "required": ["name", "age"], "additionalProperties": False}, "minItems": 1, "maxItems": 2},
        },
        "required": ["from", "to", "passengers"], "additionalProperties": False,
    }),
    function("set_alarm", "Set an alarm", {
        "type": "object",
        "properties": {"hour": {"type": "integer", "minimum": 0, "maximum": 23}, "minute": {"type": "integer", "minimum": 0, "maximum": 59},
                       "label": {"anyOf": [{"type": "string", "maxLength": 20}, {"type": "null"}]}},
        "required": ["hour", "minute", "label"], "additionalProperties": False,
    }),
    function("toggle_lights", "Switch the lights", {
        "type": "object", "properties": {"on": {"type": "boolean"}, "room": {"type": "string", "enum": ["kitchen", "hall", "bedroom"]}},
        "required": ["on", "room"], "additionalProperties": False,
    }),
]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
QUESTIONS = {
    "get_weather": "What's the weather like in Paris today?",
    "add": "What is 17 plus 25?",
    "book_flight": "Book me a flight from Zurich to Oslo for Anna, 34.",
    "set_alarm": "Wake me up at 7:30 tomorrow.",
    "toggle_lights": "Turn on the kitchen lights.",
}
checks = []


def check(name):
    def wrap(f):
        checks.append((name, f))
        return f
    return wrap


def valid_calls(message, allowed, exactly_one):
    """Every call names an allowed function and its arguments validate against its schema."""
    calls = message.tool_calls or []
    assert calls, f"no tool calls: {message}"
    if exactly_one:
        assert len(calls) == 1, calls
    for c in calls:
        assert c.type == "function" and c.id.startswith("call_"), c
        assert c.function.name in allowed, c.function.name
        jsonschema.validate(json.loads(c.function.arguments), SCHEMAS[c.function.name])
    return calls


def ask(question, **kw):
    kw.setdefault("temperature", 0)
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}], tools=TOOLS,
                                          max_tokens=160, **kw)


@check("named function: arguments validate, for every tool")
def _():
    for name, question in QUESTIONS.items():
        r = ask(question, tool_choice={"type": "function", "function": {"name": name}}, parallel_tool_calls=False)
        choice = r.choices[0]
        valid_calls(choice.message, {name}, exactly_one=True)
        assert choice.finish_reason == "tool_calls", choice.finish_reason
        assert choice.message.content is None, choice.message.content


@check("required: arguments validate, for every question, sampled too")
def _():
    for question in QUESTIONS.values():
        r = ask(question, tool_choice="required", parallel_tool_calls=False)
        valid_calls(r.choices[0].message, set(SCHEMAS), exactly_one=True)
    r = ask(QUESTIONS["book_flight"], tool_choice="required", parallel_tool_calls=False, n=2, temperature=1.0, seed=7)
    assert len(r.choices) == 2
    for choice in r.choices:
        valid_calls(choice.message, set(SCHEMAS), exactly_one=True)


@check("required with parallel calls: each call validates")
def _():
    r = client.chat.completions.create(
        model=model, temperature=0, max_tokens=120, tools=TOOLS, tool_choice="required",
        messages=[{"role": "user", "content": "Turn on the hall lights and set an alarm for 6:15."}])
    calls = r.choices[0].message.tool_calls or []
    assert calls, r.choices[0]
    for c in calls:
        jsonschema.validate(json.loads(c.function.arguments), SCHEMAS[c.function.name])


@check("a streamed call assembles in the client into the same call")
def _():
    kw = dict(tool_choice={"type": "function", "function": {"name": "book_flight"}}, parallel_tool_calls=False)
    whole = ask(QUESTIONS["book_flight"], **kw).choices[0].message.tool_calls[0]
    calls, finish, content = {}, None, ""
    with client.chat.completions.stream(model=model, messages=[{"role": "user", "content": QUESTIONS["book_flight"]}],
                                        tools=TOOLS, temperature=0, max_tokens=160, **kw) as stream:
        pieces = 0
        for event in stream:
            if event.type == "chunk":
                for d in event.chunk.choices[0].delta.tool_calls or []:
                    pieces += 1
                    entry = calls.setdefault(d.index, {"id": None, "name": None, "arguments": ""})
                    if d.id:
                        entry["id"] = d.id
                    if d.function and d.function.name:
                        entry["name"] = d.function.name
                    if d.function and d.function.arguments:
                        entry["arguments"] += d.function.arguments
                content += event.chunk.choices[0].delta.content or ""
                finish = event.chunk.choices[0].finish_reason or finish
        final = stream.get_final_completion()
    assert pieces > 2, f"the call came in {pieces} pieces"
    assert list(calls) == [0] and calls[0]["name"] == "book_flight", calls
    assert calls[0]["arguments"] == whole.function.arguments, (calls[0]["arguments"], whole.function.arguments)
    assert finish == "tool_calls" and content == "", (finish, content)
    # The client's own accumulation of the stream gives the same call.
    assembled = final.choices[0].message.tool_calls[0]
    assert assembled.id == calls[0]["id"] and assembled.function.arguments == whole.function.arguments, assembled
    jsonschema.validate(json.loads(assembled.function.arguments), SCHEMAS["book_flight"])


@check("tool messages round-trip into the conversation")
def _():
    first = ask(QUESTIONS["get_weather"], tool_choice={"type": "function", "function": {"name": "get_weather"}})
    call = first.choices[0].message.tool_calls[0]
    messages = [
        {"role": "user", "content": QUESTIONS["get_weather"]},
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature": 21, "sky": "clear"})},
    ]
    r = client.chat.completions.create(model=model, messages=messages, tools=TOOLS, tool_choice="none", temperature=0, max_tokens=24)
    choice = r.choices[0]
    assert choice.message.tool_calls is None and isinstance(choice.message.content, str), choice
    assert r.usage.prompt_tokens > first.usage.prompt_tokens + 10, (r.usage.prompt_tokens, first.usage.prompt_tokens)


@check("auto: the answer is either content or valid calls")
def _():
    r = ask(QUESTIONS["add"], tool_choice="auto")
    m = r.choices[0].message
    if m.tool_calls:
        for c in m.tool_calls:
            json.loads(c.function.arguments)
        assert r.choices[0].finish_reason == "tool_calls"
    else:
        assert isinstance(m.content, str)


@check("malformed tool requests are 400s")
def _():
    def bad(param, **kw):
        try:
            client.chat.completions.create(model=model, messages=kw.pop("messages", [{"role": "user", "content": "hi"}]), max_tokens=4, **kw)
        except openai.BadRequestError as e:
            assert e.param == param, (param, e.body)
            return
        raise AssertionError(f"accepted: {kw}")

    bad("tool_choice", tools=TOOLS, tool_choice={"type": "function", "function": {"name": "nope"}})
    bad("tool_choice", tools=TOOLS, tool_choice="sometimes")
    bad("tool_choice", tool_choice="required")
    bad("tools", tools={"type": "function"})
    bad("tools", tools=[function("f", "", {"type": "string"})])
    bad("tools", tools=[function("bad name!", "", {"type": "object"})])
    bad("tools", tools=[TOOLS[0], TOOLS[0]])
    bad("messages", tools=TOOLS, messages=[{"role": "user", "content": "hi"}, {"role": "tool", "content": "x"}])
    bad("tool_choice", tools=TOOLS, tool_choice="required", response_format={"type": "json_object"})


failed = 0
for name, f in checks:
    try:
        f()
        print(f"ok   {name}")
    except Exception as e:  # report every check, then fail
        failed += 1
        print(f"FAIL {name}: {type(e).__name__}: {e}")
print(f"openai tools checks: {len(checks) - failed} ok, {failed} failing")
sys.exit(1 if failed else 0)
