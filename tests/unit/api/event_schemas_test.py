#!/usr/bin/env python3
"""The event schemas (api/events/) accept every (type, schema_version) that can be stored and
refuse what is not an event: each case below must give no problem (valid) or at least one.

    event_schemas_test.py REPO_ROOT
"""
import copy
import importlib.util
import json
import pathlib
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
spec = importlib.util.spec_from_file_location("validate_events",
                                              ROOT / "tests/support/validate_events.py")
ve = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ve)

SCHEMAS = ROOT / "api/events"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
DATA = {
    ("OrderCreated", 1): {"order_id": "o-1", "customer_id": "c-1"},
    ("OrderItemAdded", 1): {"product_id": "p-1", "quantity": 2, "price": 12.5},
    ("OrderItemAdded", 2): {"product_id": "p-1", "quantity": 2, "price_cents": 1250},
    ("OrderItemRemoved", 1): {"product_id": "p-1"},
    ("OrderConfirmed", 1): {},
    ("OrderShipped", 1): {"tracking_number": "TRK-1"},
    ("OrderDelivered", 1): {},
}


def message(type_, version, data):
    env = {
        "event_id": "0190c3a2-7b1e-7abc-8def-0123456789ab",
        "stream_id": "o-1", "version": 1, "position": 7, "global_position": 3,
        "type": type_, "schema_version": version, "recorded_at_us": 1764806400123456,
        "data": data,
        "metadata": {"command": "CreateOrder", "request_id": "r-1", "trace_id": TRACE,
                     "span_id": SPAN, "traceparent": f"00-{TRACE}-{SPAN}-01",
                     "correlation_id": TRACE, "causation_id": "r-1"},
    }
    headers = {
        "ce-specversion": "1.0", "ce-id": env["event_id"], "ce-source": "/orders/write-side",
        "ce-type": "orders." + type_, "ce-subject": "o-1", "ce-time": "2025-12-04T00:00:00.123456Z",
        "content-type": "application/json", "traceparent": f"00-{TRACE}-{SPAN}-01",
        "Nats-Msg-Id": env["event_id"], "Nats-Expected-Last-Sequence": "2",
    }
    return headers, env


def changed(type_, version, edit):
    headers, env = message(type_, version, copy.deepcopy(DATA[(type_, version)]))
    edit(headers, env)
    return headers, env


def drop(d, key):
    d.pop(key)


INVALID = {
    "v1 price at schema_version 2": changed(
        "OrderItemAdded", 2, lambda h, e: e.update(data=DATA[("OrderItemAdded", 1)])),
    "v2 price_cents at schema_version 1": changed(
        "OrderItemAdded", 1, lambda h, e: e.update(data=DATA[("OrderItemAdded", 2)])),
    "a float price_cents": changed(
        "OrderItemAdded", 2, lambda h, e: e["data"].update(price_cents=12.5)),
    "quantity 0": changed("OrderItemAdded", 2, lambda h, e: e["data"].update(quantity=0)),
    "unknown schema_version": changed(
        "OrderCreated", 1, lambda h, e: e.update(schema_version=2)),
    "unknown type": changed(
        "OrderCreated", 1, lambda h, e: (e.update(type="OrderLost"), h.update({"ce-type": "orders.OrderLost"}))),
    "data with an unknown member": changed(
        "OrderConfirmed", 1, lambda h, e: e["data"].update(note="x")),
    "data missing a member": changed("OrderShipped", 1, lambda h, e: drop(e["data"], "tracking_number")),
    "a bad order id": changed("OrderCreated", 1, lambda h, e: e["data"].update(order_id="a b")),
    "envelope missing metadata": changed("OrderConfirmed", 1, lambda h, e: drop(e, "metadata")),
    "an all-zero trace id": changed(
        "OrderConfirmed", 1, lambda h, e: e["metadata"].update(trace_id="0" * 32)),
    "an upper-case span id": changed(
        "OrderConfirmed", 1, lambda h, e: e["metadata"].update(span_id=SPAN.upper())),
    "unknown metadata member": changed(
        "OrderConfirmed", 1, lambda h, e: e["metadata"].update(user="x")),
    "no ce-specversion": changed("OrderConfirmed", 1, lambda h, e: drop(h, "ce-specversion")),
    "ce-specversion 0.3": changed("OrderConfirmed", 1, lambda h, e: h.update({"ce-specversion": "0.3"})),
    "ce-id not the event id": changed(
        "OrderConfirmed", 1, lambda h, e: h.update({"ce-id": "0190c3a2-7b1e-7abc-8def-0123456789ac"})),
    "ce-subject not the order": changed(
        "OrderConfirmed", 1, lambda h, e: h.update({"ce-subject": "o-2"})),
    "ce-time not recorded_at": changed(
        "OrderConfirmed", 1, lambda h, e: h.update({"ce-time": "2025-12-04T00:00:00.123457Z"})),
    "ce-type of another event": changed(
        "OrderConfirmed", 1, lambda h, e: h.update({"ce-type": "orders.OrderShipped"})),
    "traceparent header not the metadata's": changed(
        "OrderConfirmed", 1, lambda h, e: h.update(traceparent=f"00-{TRACE}-{'1' * 16}-01")),
    "traceparent header without one in the metadata": changed(
        "OrderConfirmed", 1, lambda h, e: drop(e["metadata"], "traceparent")),
}


def main():
    envelope_v = ve.validator(SCHEMAS, "envelope.schema.json")
    headers_v = ve.validator(SCHEMAS, "bus-headers.schema.json")
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        ve.jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))

    def problems(headers, env):
        return list(ve.problems(envelope_v, headers_v, {"headers": headers, "body": json.dumps(env)}))

    failures = []
    for (type_, version), data in DATA.items():
        found = problems(*message(type_, version, data))
        if found:
            failures.append(f"valid {type_} v{version} refused: {found}")
    # An event recorded before trace context existed: no trace members, no traceparent header.
    headers, env = message("OrderCreated", 1, DATA[("OrderCreated", 1)])
    env["metadata"] = {"command": "CreateOrder", "request_id": "r-1"}
    del headers["traceparent"]
    if problems(headers, env):
        failures.append(f"an untraced event refused: {problems(headers, env)}")
    for name, (headers, env) in INVALID.items():
        if not problems(headers, env):
            failures.append(f"invalid case accepted: {name}")
    for f in failures:
        print(f)
    print(f"event_schemas_test: {len(DATA) + 1} valid and {len(INVALID)} invalid cases, "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
