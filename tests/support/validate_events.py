#!/usr/bin/env python3
"""Validates bus messages against the event schemas in api/events/ (JSON Schema 2020-12).

    validate_events.py SCHEMA_DIR MESSAGES.jsonl

Each line of MESSAGES.jsonl is one message as read from JetStream:
{"headers": {name: value}, "body": "<the message body as text>"}. The body must be a valid
envelope (envelope.schema.json, its data by type and schema_version, its metadata), the headers
valid bus headers (bus-headers.schema.json), and the two must agree (ce-id = event_id,
ce-subject = stream_id, ce-type = "orders." + type, ce-time = recorded_at_us, traceparent =
metadata.traceparent). Exit 0 when every message is valid, 1 with one line per problem, 2 on
bad usage. Needs python3-jsonschema (Debian 12: 4.10).
"""
import datetime
import json
import pathlib
import sys

import jsonschema


def validator(schema_dir, name):
    schema = json.loads((schema_dir / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    resolver = jsonschema.RefResolver(base_uri=(schema_dir / name).resolve().as_uri(),
                                      referrer=schema)
    return jsonschema.Draft202012Validator(schema, resolver=resolver)


def rfc3339_us(unix_us):
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=unix_us)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def agreement(headers, env):
    """Problems between the CloudEvents / trace headers and the envelope."""
    want = {
        "ce-id": env.get("event_id"),
        "Nats-Msg-Id": env.get("event_id"),
        "ce-subject": env.get("stream_id"),
        "ce-type": "orders." + str(env.get("type")),
    }
    if isinstance(env.get("recorded_at_us"), int):
        want["ce-time"] = rfc3339_us(env["recorded_at_us"])
    metadata = env.get("metadata") if isinstance(env.get("metadata"), dict) else {}
    if "traceparent" in metadata:
        want["traceparent"] = metadata["traceparent"]
    elif "traceparent" in headers:
        yield "traceparent header without a traceparent in the metadata"
    for name, value in want.items():
        if headers.get(name) != value:
            yield f"header {name} is {headers.get(name)!r}, the envelope says {value!r}"


def problems(envelope_v, headers_v, message):
    headers = message.get("headers", {})
    try:
        env = json.loads(message.get("body", ""))
    except json.JSONDecodeError as e:
        yield f"body is not JSON: {e}"
        return
    for e in envelope_v.iter_errors(env):
        yield f"envelope {'/'.join(map(str, e.absolute_path))}: {e.message}"
    for e in headers_v.iter_errors(headers):
        yield f"headers {'/'.join(map(str, e.absolute_path))}: {e.message}"
    if isinstance(env, dict):
        yield from agreement(headers, env)


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    schema_dir = pathlib.Path(argv[1])
    envelope_v = validator(schema_dir, "envelope.schema.json")
    headers_v = validator(schema_dir, "bus-headers.schema.json")
    bad = 0
    count = 0
    for n, line in enumerate(pathlib.Path(argv[2]).read_text().splitlines(), 1):
        if not line.strip():
            continue
        count += 1
        for p in problems(envelope_v, headers_v, json.loads(line)):
            bad += 1
            print(f"message {n}: {p}")
    print(f"validate_events: {count} messages, {bad} problems")
    return 1 if bad or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
