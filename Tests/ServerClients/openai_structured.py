"""Structured outputs through the official `openai` package: JSON schemas of growing difficulty,
Pydantic models through `chat.completions.parse`, vLLM's guided_* and structured_outputs fields
through extra_body, and the 400s of constraints that cannot be compiled.

Run by Tests/SwiftletServerTests/StructuredOutputServerTests.swift against a server on loopback:
    python3 openai_structured.py BASE_URL API_KEY MODEL
Every answer is checked with the `jsonschema` package (formats included). Requests are greedy and
sent concurrently so the engine batches them. A grammar makes the output complete only if the
model reaches its end, so strings and arrays carry maxLength/maxItems where a 135M model would
otherwise go on repeating itself until max_tokens. The engine does not take maxLength beside
`format: email`, so the questions that ask for emails show one (a@b.com) for the model to follow.
"""
import concurrent.futures
import datetime
import enum
import json
import re
import sys
import time
from typing import List, Literal, Optional, Union

import jsonschema
import openai
import pydantic

base_url, api_key, model = sys.argv[1], sys.argv[2], sys.argv[3]
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=1800)  # a hang guard, not a speed bound
MAX_TOKENS = 320

S = {"type": "string", "maxLength": 24}  # a short string


def obj(props, required=None, **extra):
    return {"type": "object", "properties": props, "required": list(props) if required is None else required,
            "additionalProperties": False, **extra}


# (name, what to ask for, schema), easiest first.
SCHEMAS = [
    ("name", "a person's name", obj({"name": S})),
    ("age", "a person's name and age", obj({"name": S, "age": {"type": "integer", "minimum": 0, "maximum": 120}})),
    ("flag", "whether the sky is blue", obj({"answer": {"type": "boolean"}})),
    ("price", "a product and its price", obj({"product": S, "price": {"type": "number", "minimum": 0}})),
    ("color enum", "a favourite color", obj({"color": {"type": "string", "enum": ["red", "green", "blue"]}})),
    ("const", "an API version", obj({"version": {"const": "v1"}, "ok": {"type": "boolean"}})),
    ("nullable", "a middle name, or null", obj({"first": S, "middle": {"type": ["string", "null"], "maxLength": 16}})),
    ("string bounds", "a three to eight letter word", obj({"word": {"type": "string", "minLength": 3, "maxLength": 8}})),
    ("integer enum", "a dice roll", obj({"roll": {"type": "integer", "enum": [1, 2, 3, 4, 5, 6]}})),
    ("exclusive bounds", "a percentage", obj({"percent": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 100}})),
    ("tags", "a list of tags", obj({"tags": {"type": "array", "items": S, "maxItems": 3}})),
    ("scores", "one to three scores", obj({"scores": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 10},
                                                       "minItems": 1, "maxItems": 3}})),
    ("optional fields", "a city and maybe its country", obj({"city": S, "country": S, "population": {"type": "integer", "minimum": 0,
                                                                                                        "maximum": 99999999}},
                                                            required=["city"])),
    ("address", "a person with an address", obj({"name": S, "address": obj({"street": S, "city": S})})),
    ("two levels", "a company, its CEO and the CEO's email such as ceo@firm.com",
     obj({"company": S, "ceo": obj({"name": S, "contact": obj({"email": {"type": "string", "pattern": "^[a-z]{1,12}@[a-z]{1,12}\\.com$"}})})})),
    ("list of objects", "a shopping list", obj({"items": {"type": "array", "maxItems": 2,
                                                          "items": obj({"item": S, "qty": {"type": "integer", "minimum": 1, "maximum": 9}})}})),
    ("anyOf scalar", "an id as a number or a string", obj({"id": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 999}, S]}})),
    ("anyOf objects", "a pet, cat or dog",
     obj({"pet": {"anyOf": [obj({"kind": {"const": "cat"}, "lives": {"type": "integer", "minimum": 0, "maximum": 9}}),
                            obj({"kind": {"const": "dog"}, "breed": S})]}})),
    ("oneOf", "a shape", obj({"shape": {"oneOf": [obj({"circle": {"type": "integer", "minimum": 0, "maximum": 100}}),
                                                   obj({"square": {"type": "integer", "minimum": 0, "maximum": 100}})]}})),
    # Each part may not forbid the other's properties (additionalProperties false would make it unsatisfiable).
    ("allOf", "a named and dated thing", {"allOf": [{"type": "object", "properties": {"name": S}, "required": ["name"]},
                                                    {"type": "object", "properties": {"year": {"type": "integer", "minimum": 1900,
                                                                                               "maximum": 2100}},
                                                     "required": ["year"]}]}),
    ("$ref", "two points", {"$defs": {"point": obj({"x": {"type": "integer", "minimum": -99, "maximum": 99},
                                                     "y": {"type": "integer", "minimum": -99, "maximum": 99}})},
                            **obj({"a": {"$ref": "#/$defs/point"}, "b": {"$ref": "#/$defs/point"}})}),
    ("pattern", "a flight code", obj({"code": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{3}$"}})),
    ("pattern phone", "a phone number", obj({"phone": {"type": "string", "pattern": "^\\+?[0-9]{3}-[0-9]{3}-[0-9]{4}$"}})),
    ("date", "a birthday", obj({"birthday": {"type": "string", "format": "date"}})),
    ("time", "a meeting time", obj({"at": {"type": "string", "format": "time"}})),
    ("date-time", "a timestamp", obj({"timestamp": {"type": "string", "format": "date-time"}})),
    ("uuid", "a user id", obj({"user_id": {"type": "string", "format": "uuid"}})),
    ("email", "a contact email such as anna@mail.com", obj({"email": {"type": "string", "format": "email"}})),
    ("prefixItems", "a point as [x, y, label]", obj({"point": {"type": "array", "prefixItems": [
        {"type": "integer", "minimum": 0, "maximum": 99}, {"type": "integer", "minimum": 0, "maximum": 99}, S], "items": False}})),
    ("event", "an event with a date, attendees (with emails such as tom@mail.com) and a status",
     obj({"title": S, "date": {"type": "string", "format": "date"},
          "attendees": {"type": "array", "items": obj({"name": S, "email": {"type": "string", "format": "email"}}),
                        "maxItems": 2},
          "status": {"enum": ["planned", "done", "cancelled"]}})),
    ("order", "an order with lines, a total and an optional note",
     {"$defs": {"line": obj({"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"},
                             "qty": {"type": "integer", "minimum": 1, "maximum": 9}})},
      **obj({"order_id": {"type": "string", "format": "uuid"}, "lines": {"type": "array", "items": {"$ref": "#/$defs/line"},
                                                                        "minItems": 1, "maxItems": 2},
             "total": {"type": "number", "minimum": 0}, "note": {"type": ["string", "null"], "maxLength": 20}},
            required=["order_id", "lines", "total"])}),
]


class Color(str, enum.Enum):
    red = "red"
    green = "green"
    blue = "blue"


class Person(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=20)
    age: int = pydantic.Field(ge=0, le=120)


class Address(pydantic.BaseModel):
    street: str = pydantic.Field(max_length=24)
    city: str = pydantic.Field(max_length=24)


class Customer(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=20)
    favourite: Color
    address: Address
    vip: bool


class Line(pydantic.BaseModel):
    product: str = pydantic.Field(max_length=16)
    quantity: int = pydantic.Field(ge=1, le=9)


class Invoice(pydantic.BaseModel):
    number: str = pydantic.Field(pattern=r"^INV-[0-9]{4}$")
    issued: datetime.date
    lines: List[Line] = pydantic.Field(max_length=2)
    status: Literal["open", "paid"]
    discount: Optional[int] = pydantic.Field(ge=0, le=50)
    contact: Union[Person, Address]


PYDANTIC = [("Person", "Alice is 31.", Person), ("Customer", "A customer from Paris.", Customer),
            ("Invoice", "An invoice for two pens.", Invoice)]

failures = []
timings = {}


def fail(name, why):
    failures.append(f"{name}: {why}")


def ask(what):
    return [{"role": "system", "content": "You answer with JSON only."},
            {"role": "user", "content": f"Give an example JSON object with {what}."}]


def validate(name, schema, text):
    try:
        value = json.loads(text)
    except ValueError as e:
        return fail(name, f"not JSON ({e}): {text!r}")
    try:
        jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(value)
    except jsonschema.ValidationError as e:
        return fail(name, f"does not validate ({e.message}): {text!r}")
    # The format checker checks date-time and time only with an optional package: check them here too.
    for key, fmt in (("timestamp", "date-time"), ("at", "time")):
        if fmt in json.dumps(schema) and isinstance(value, dict) and key in value:
            v = value[key]
            ok = re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", v) if fmt == "date-time" \
                else re.fullmatch(r"\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", v)
            if not ok:
                fail(name, f"{fmt} {v!r} is not RFC 3339")
    return value


def json_prefix_ok(text):
    """Whether `text` can still be continued into valid JSON: all that a grammar can promise of an
    output that max_tokens cut short. Tries short endings for a cut string, number or literal; the
    text is a valid beginning if one of them parses, or leaves the parser wanting only more."""
    endings = ["", '"', 'n"', "0", '0"'] + [w[i:] for w in ("true", "false", "null") for i in range(1, len(w))]
    for end in endings:
        t = text + end
        try:
            json.loads(t)
            return True
        except json.JSONDecodeError as e:
            if e.pos >= len(t) and not e.msg.startswith("Unterminated string"):
                return True
    return False


def json_schema_case(case):
    name, what, schema = case
    r = client.chat.completions.create(model=model, messages=ask(what), temperature=0, max_tokens=MAX_TOKENS,
                                       response_format={"type": "json_schema",
                                                        "json_schema": {"name": name.replace(" ", "_").replace("$", ""),
                                                                        "schema": schema, "strict": True}})
    c = r.choices[0]
    if c.finish_reason != "stop":
        return fail(name, f"finish_reason {c.finish_reason} after {r.usage.completion_tokens} tokens: {c.message.content!r}")
    validate(name, schema, c.message.content)


def pydantic_case(case):
    name, prompt, cls = case
    try:
        r = client.chat.completions.parse(model=model, messages=[{"role": "user", "content": prompt}], temperature=0,
                                          max_tokens=MAX_TOKENS, response_format=cls)
    except Exception as e:  # LengthFinishReasonError, pydantic.ValidationError
        return fail(f"pydantic {name}", f"{type(e).__name__}: {e}")
    parsed = r.choices[0].message.parsed
    if not isinstance(parsed, cls):
        return fail(f"pydantic {name}", f"parsed to {parsed!r}")
    validate(f"pydantic {name}", cls.model_json_schema(), r.choices[0].message.content)


def run_concurrently(f, cases):
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(cases)) as pool:
        for future in [pool.submit(f, c) for c in cases]:
            try:
                future.result()
            except Exception as e:
                fail(f.__name__, f"{type(e).__name__}: {e}")


def extra_body_cases():
    regex = r"[A-Z][a-z]{2,9} [0-9]{1,3}"
    r = client.chat.completions.create(model=model, messages=ask("a name and a number"), temperature=0, max_tokens=40,
                                       extra_body={"guided_regex": regex})
    if not re.fullmatch(regex, r.choices[0].message.content) or r.choices[0].finish_reason != "stop":
        fail("guided_regex", repr(r.choices[0].message.content))
    choices = ["positive", "negative", "neutral"]
    r = client.chat.completions.create(model=model, temperature=0, max_tokens=20, extra_body={"guided_choice": choices},
                                       messages=[{"role": "user", "content": "Sentiment of 'I love it'?"}])
    if r.choices[0].message.content not in choices or r.choices[0].finish_reason != "stop":
        fail("guided_choice", repr(r.choices[0].message.content))
    grammar = 'root ::= "The answer is " [0-9]{1,3} "."'
    r = client.completions.create(model=model, prompt="Six times seven:", temperature=0, max_tokens=30,
                                  extra_body={"guided_grammar": grammar})
    if not re.fullmatch(r"The answer is [0-9]{1,3}\.", r.choices[0].text):
        fail("guided_grammar", repr(r.choices[0].text))
    schema = SCHEMAS[1][2]
    r = client.completions.create(model=model, prompt="A person as JSON:", temperature=0.8, max_tokens=80, n=2, seed=5,
                                  extra_body={"guided_json": schema})
    for c in r.choices:
        validate("guided_json (completions, n=2, sampled)", schema, c.text)
    r = client.chat.completions.create(model=model, messages=ask("a color"), temperature=0, max_tokens=30,
                                       extra_body={"structured_outputs": {"choice": ["red", "green"]}})
    if r.choices[0].message.content not in ("red", "green"):
        fail("structured_outputs.choice", repr(r.choices[0].message.content))
    r = client.chat.completions.create(model=model, messages=ask("a city"), temperature=0, max_tokens=80,
                                       extra_body={"structured_outputs": {"json": json.dumps(SCHEMAS[0][2])}})
    validate("structured_outputs.json (as text)", SCHEMAS[0][2], r.choices[0].message.content)
    # Any object: nothing bounds it, so the question asks for a small one.
    r = client.chat.completions.create(model=model, temperature=0, max_tokens=MAX_TOKENS, response_format={"type": "json_object"},
                                       messages=[{"role": "user", "content": "Paris as a JSON object with its country, nothing else."}])
    # Nothing bounds an object either: greedy decoding may go on adding keys until max_tokens (as
    # with the AVX2 kernels' rounding), and then the output need only be a valid beginning.
    text = r.choices[0].message.content
    if r.choices[0].finish_reason == "length":
        if not (text.lstrip().startswith("{") and json_prefix_ok(text)):
            fail("json_object", f"cut at max_tokens, and not the start of a JSON object: {text!r}")
    elif not isinstance(validate("json_object", {"type": "object"}, text), dict):
        fail("json_object", "not an object")
    # Streamed: the chunks assemble into valid JSON.
    schema = SCHEMAS[13][2]
    stream = client.chat.completions.create(model=model, messages=ask("a person with an address"), temperature=0,
                                            max_tokens=MAX_TOKENS, stream=True,
                                            response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}})
    text, reasons = "", []
    for chunk in stream:
        for ch in chunk.choices:
            text += ch.delta.content or ""
            if ch.finish_reason:
                reasons.append(ch.finish_reason)
    if reasons != ["stop"]:
        fail("streamed json_schema", f"finish reasons {reasons}")
    validate("streamed json_schema", schema, text)


def expect_400(name, param, **kwargs):
    try:
        client.chat.completions.create(model=model, messages=ask("x"), max_tokens=5, **kwargs)
    except openai.BadRequestError as e:
        body = e.body if isinstance(e.body, dict) else {}
        got = body.get("param") if "param" in body else (body.get("error") or {}).get("param")
        if e.status_code != 400 or got != param:
            fail(name, f"status {e.status_code}, param {got!r}: {e}")
        return
    fail(name, "was accepted")


def error_cases():
    bad_schema = {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}
    expect_400("bad schema", "response_format",
               response_format={"type": "json_schema", "json_schema": {"name": "bad", "schema": bad_schema}})
    expect_400("bad guided_json", "guided_json", extra_body={"guided_json": {"type": "no-such-type"}})
    expect_400("bad regex", "guided_regex", extra_body={"guided_regex": "(unclosed"})
    expect_400("bad grammar", "guided_grammar", extra_body={"guided_grammar": 'root ::= "a" undefined'})
    expect_400("two constraints", "guided_regex", extra_body={"guided_json": {"type": "object"}, "guided_regex": "a+"})
    expect_400("unknown response_format", "response_format", response_format={"type": "yaml"})


start = time.time()
run_concurrently(json_schema_case, SCHEMAS)
timings["json_schema"] = time.time() - start
t = time.time()
run_concurrently(pydantic_case, PYDANTIC)
timings["pydantic"] = time.time() - t
t = time.time()
for f in (extra_body_cases, error_cases):
    try:
        f()
    except Exception as e:
        fail(f.__name__, f"{type(e).__name__}: {e}")
timings["other"] = time.time() - t

total = len(SCHEMAS) + len(PYDANTIC)
for line in failures:
    print("FAIL", line)
print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
print(f"structured output checks: {total} schemas, {len(failures)} failing")
sys.exit(1 if failures else 0)
