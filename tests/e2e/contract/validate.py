#!/usr/bin/env python3
"""Validates recorded HTTP exchanges against the services' OpenAPI documents.

  validate.py --spec write-side=W.json --spec read-side=R.json [--coverage] EXCHANGES.jsonl

Each line of EXCHANGES.jsonl is one response: {"service", "method", "path" (no query), "status",
"headers": {lower-case name: value}, "body"}. For each, the operation is found by method and path
template, then the response of its status (or the path's 405 / the service's 404 when no operation
matches): every required header is present and matches its schema, the Content-Type is one the
response declares (none: the body is empty) and a JSON body is valid against the schema (JSON
Schema 2020-12, python3-jsonschema). --coverage: every operation got at least one 2xx and one
problem (4xx/5xx) response. Exit 1 on any failure.
"""
import argparse
import json
import re
import sys

import jsonschema

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def deref(node, spec, depth=0):
    """The schema with every local $ref replaced by its target (the documents have no cycles)."""
    if depth > 64:
        raise ValueError("$ref nesting too deep (a cycle?)")
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"][2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            merged = dict(deref(target, spec, depth + 1))
            merged.update({k: deref(v, spec, depth + 1) for k, v in node.items() if k != "$ref"})
            return merged
        return {k: deref(v, spec, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [deref(v, spec, depth + 1) for v in node]
    return node


class Service:
    def __init__(self, name, spec):
        self.name = name
        self.spec = spec
        self.routes = []  # (regex, template, path item), literal templates first
        for template, item in spec["paths"].items():
            rx = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
            self.routes.append((re.compile(rx), template, item))
        self.routes.sort(key=lambda r: r[1].count("{"))

    def response_spec(self, method, path, status):
        """(operation key or None, response object or None, why)."""
        for rx, template, item in self.routes:
            if not rx.match(path):
                continue
            op = item.get(method.lower())
            if op is None:
                return None, deref(self.spec["components"]["responses"]["MethodNotAllowed"],
                                   self.spec), f"{template} has no {method}"
            key = f"{self.name} {method} {template}"
            responses = op["responses"]
            r = responses.get(str(status), responses.get("default"))
            if r is None:
                return key, None, f"{key} does not list status {status}"
            return key, deref(r, self.spec), ""
        return None, deref(self.spec["components"]["responses"]["NotFound"], self.spec), ""

    def operations(self):
        for template, item in self.spec["paths"].items():
            for method in METHODS:
                if method in item:
                    yield f"{self.name} {method.upper()} {template}"


def check(service, ex):
    errors = []
    key, resp, why = service.response_spec(ex["method"], ex["path"], ex["status"])
    if resp is None:
        return key, [why]
    headers = {k.lower(): v for k, v in ex.get("headers", {}).items()}
    for name, h in (resp.get("headers") or {}).items():
        value = headers.get(name.lower())
        if value is None:
            if h.get("required"):
                errors.append(f"header {name} missing")
            continue
        try:
            jsonschema.Draft202012Validator(h.get("schema", {})).validate(value)
        except jsonschema.ValidationError as e:
            errors.append(f"header {name}: {e.message}")
    content = resp.get("content") or {}
    ctype = headers.get("content-type", "").split(";")[0].strip()
    body = ex.get("body", "")
    if not content:
        if body:
            errors.append(f"a body where the response declares none ({len(body)} bytes)")
        return key, errors
    if ctype not in content:
        errors.append(f"Content-Type {ctype!r} is not one of {sorted(content)}")
        return key, errors
    schema = content[ctype].get("schema", {})
    if ctype.endswith("json"):
        try:
            value = json.loads(body)
        except ValueError as e:
            return key, errors + [f"body is not JSON: {e}"]
    else:
        value = body
    validator = jsonschema.Draft202012Validator(schema)
    for e in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in e.absolute_path)
        errors.append(f"body at /{where}: {e.message[:300]}")
    return key, errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", action="append", required=True, help="SERVICE=openapi.json")
    ap.add_argument("--coverage", action="store_true")
    ap.add_argument("exchanges")
    args = ap.parse_args()
    services = {}
    for s in args.spec:
        name, path = s.split("=", 1)
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        for name_, schema in spec.get("components", {}).get("schemas", {}).items():
            jsonschema.Draft202012Validator.check_schema(deref(schema, spec))
        services[name] = Service(name, spec)

    seen = {}  # operation -> set of classes ("2xx", "problem")
    failures = 0
    count = 0
    with open(args.exchanges, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            ex = json.loads(line)
            count += 1
            key, errors = check(services[ex["service"]], ex)
            if key is not None and not errors:
                cls = "2xx" if 200 <= ex["status"] < 300 else "problem" if ex["status"] >= 400 else ""
                seen.setdefault(key, set()).add(cls)
            if errors:
                failures += 1
                print(f"FAIL {ex['service']} {ex['method']} {ex['path']} -> {ex['status']}:")
                for e in errors:
                    print(f"    {e}")
    missing = []
    if args.coverage:
        for svc in services.values():
            for op in svc.operations():
                for cls in ("2xx", "problem"):
                    if cls not in seen.get(op, set()):
                        missing.append(f"{op}: no valid {cls} response")
    for m in missing:
        print(f"NOT COVERED {m}")
    print(f"validate.py: {count} responses, {failures} invalid, "
          f"{len(seen)} operations seen, {len(missing)} coverage gaps")
    return 1 if failures or missing or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
