"""Schemathesis hooks for scripts/api-fuzz: the NDJSON body format and the API's own error contract.

Loaded with SCHEMATHESIS_HOOKS=scripts/api-fuzz.d/hooks.py. The check reads each operation's parameters and body
fields from the document under test.
"""

import json
import os
import re
import threading

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    """One JSON value per line: the entries of a list, or the value itself when it is not a list."""
    entries = value if isinstance(value, list) else [value]
    return "".join(json.dumps(entry) + "\n" for entry in entries).encode("utf-8")


def resolve(node, document):
    """Follows a local `$ref` ("#/components/…") to what it names."""
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def field_names(schema, document, seen=None):
    """Every property name a request body schema mentions, through references, compositions and items."""
    seen = set() if seen is None else seen
    names = set()
    if isinstance(schema, dict):
        if "$ref" in schema:
            if schema["$ref"] in seen:
                return names
            seen.add(schema["$ref"])
        schema = resolve(schema, document)
        for name, property_schema in schema.get("properties", {}).items():
            names.add(name)
            names |= field_names(property_schema, document, seen)
        for key in ("items", "additionalProperties"):
            names |= field_names(schema.get(key), document, seen)
        for key in ("allOf", "oneOf", "anyOf"):
            for member in schema.get(key, []):
                names |= field_names(member, document, seen)
    return names


def operation_names(operation):
    """The parameter names and body field names of an operation, as its error messages may name them."""
    document = operation.schema.raw_schema
    definition = operation.definition.raw
    path_item = document["paths"][operation.path]
    parameters = [resolve(p, document) for p in path_item.get("parameters", []) + definition.get("parameters", [])]
    names = {parameter["name"] for parameter in parameters}
    body = resolve(definition.get("requestBody", {}), document)
    for media in body.get("content", {}).values():
        names |= field_names(media.get("schema"), document)
    return names


# What a message about the body as a whole says instead of a field name: where its syntax fails, or what shape it
# must have.
BODY_WORDS = ("line ", "column ", "body", "JSON", "expected")
PER_STATUS_WORDS = {
    404: ("unknown ", "no route for "),
    405: ("not allowed for ",),
    409: ("already running",),
    413: ("limit", "at most"),
    415: ("Content-Type",),
    429: ("retry in",),
}


@schemathesis.check
def error_body_names_the_problem(ctx, response, case):
    """Every 4xx is `{"error": "…"}` (application/json) whose message names the parameter or field at fault."""
    status = response.status_code
    if not 400 <= status < 500:
        return None
    media_type = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    if media_type != "application/json":
        raise AssertionError(f"{status} has Content-Type '{media_type}', not application/json")
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"{status} body is not JSON: {error}") from None
    if not (isinstance(body, dict) and set(body) == {"error"} and isinstance(body["error"], str) and body["error"]):
        raise AssertionError(f'{status} body is not {{"error": "<message>"}}: {response.content[:200]!r}')
    message = body["error"]
    words = PER_STATUS_WORDS.get(status)
    if words is None:
        names = operation_names(case.operation)
        named = any(re.search(rf"(?<![A-Za-z_]){re.escape(name)}(?![A-Za-z_])", message) for name in names)
        if named or any(word in message for word in BODY_WORDS):
            return None
        raise AssertionError(f"{status} message names none of {sorted(names)}: {message!r}")
    if not any(word in message for word in words):
        raise AssertionError(f"{status} message says none of {list(words)}: {message!r}")
    return None


TRACE_PATH = os.environ.get("API_FUZZ_TRACE")
TRACE_LOCK = threading.Lock()


@schemathesis.hook
def after_call(context, case, response):
    """With API_FUZZ_TRACE=path, appends one JSON line per request: operation, status and any error message."""
    if not TRACE_PATH:
        return
    line = {"operation": f"{case.operation.method.upper()} {case.operation.path}", "status": response.status_code}
    if response.status_code >= 400:
        try:
            line["error"] = json.loads(response.content).get("error")
        except (ValueError, AttributeError):
            line["body"] = response.content[:200].decode("utf-8", "replace")
    with TRACE_LOCK, open(TRACE_PATH, "a", encoding="utf-8") as trace:
        trace.write(json.dumps(line) + "\n")
