#!/usr/bin/env python3
"""Checks that every metric the observability pack queries exists in real scrapes.

  metric_names.py DASHBOARD_JSON ALERTS_YML SCRAPE_FILE...

The metric names are read from the PromQL of every dashboard panel target and every alert rule:
string literals, label matchers ({...}), ranges ([...]) and the label lists of by / without / on /
ignoring / group_left / group_right are removed, then every identifier that is not a function
(followed by "("), a keyword or `up` (Prometheus' own) is a metric name. A name exists when a
scrape has a sample of it; a name ending in _bucket / _count / _sum must belong to a histogram
family (its # TYPE) of the base name. A selector with an equality matcher (name{label="value"})
needs a sample with that label value. Exit 1 with the missing names.
"""
import json
import re
import sys

import yaml

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "offset", "bool", "inf", "nan"}
PROMETHEUS_OWN = {"up"}
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
EQUALS = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')


def strip_nested(expr, open_ch, close_ch):
    out, depth = [], 0
    for ch in expr:
        if ch == open_ch:
            depth += 1
        elif ch == close_ch and depth:
            depth -= 1
        elif not depth:
            out.append(ch)
    return "".join(out)


def metric_names(expr):
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    expr = strip_nested(expr, "{", "}")
    expr = strip_nested(expr, "[", "]")
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for m in IDENT.finditer(expr):
        name = m.group(0)
        if m.start() > 0 and (expr[m.start() - 1].isdigit() or expr[m.start() - 1] == "."):
            continue  # the exponent or suffix of a number (1e3, 5m)
        rest = expr[m.end():].lstrip()
        if rest.startswith("(") or name.lower() in KEYWORDS or name in PROMETHEUS_OWN:
            continue
        names.add(name)
    return names


def equality_matchers(expr):
    """(name, label, value) of every name{label="value"} matcher (not =~, !=, !~)."""
    out = set()
    for m in SELECTOR.finditer(expr):
        for lm in EQUALS.finditer(m.group(2)):
            before = m.group(2)[: lm.start(0) + len(lm.group(1))].rstrip()
            if not before.endswith(("!", "=~", "!~")):
                out.add((m.group(1), lm.group(1), lm.group(2)))
    return out


def queried(dashboard, alerts):
    found, matchers = {}, {}  # name or (name, label, value) -> where
    exprs = [(t["expr"], f"dashboard panel '{p['title']}'")
             for p in json.load(open(dashboard))["panels"] for t in p.get("targets", [])]
    exprs += [(r["expr"], f"alert {r.get('alert') or r.get('record')}")
              for g in yaml.safe_load(open(alerts))["groups"] for r in g["rules"]]
    for expr, where in exprs:
        for n in metric_names(expr):
            found.setdefault(n, where)
        for m in equality_matchers(expr):
            matchers.setdefault(m, where)
    return found, matchers


def scraped(files):
    samples, types, labels = set(), {}, set()
    for path in files:
        for line in open(path):
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split()[:4]
                types[name] = kind
            elif line.strip() and not line.startswith("#"):
                name = IDENT.match(line).group(0)
                samples.add(name)
                block = SELECTOR.match(line)
                for lm in EQUALS.finditer(block.group(2) if block else ""):
                    labels.add((name, lm.group(1), lm.group(2)))
    return samples, types, labels


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    found, matchers = queried(sys.argv[1], sys.argv[2])
    samples, types, labels = scraped(sys.argv[3:])
    missing = []
    for name, where in sorted(found.items()):
        ok = name in samples
        for suffix in ("_bucket", "_count", "_sum"):
            if ok and name.endswith(suffix) and types.get(name[: -len(suffix)]) != "histogram":
                ok = False
        print(("ok   " if ok else "FAIL ") + f"{name} ({where})")
        if not ok:
            missing.append(name)
    for (name, label, value), where in sorted(matchers.items()):
        ok = (name, label, value) in labels
        print(("ok   " if ok else "FAIL ") + f'{name}{{{label}="{value}"}} ({where})')
        if not ok:
            missing.append(f'{name}{{{label}="{value}"}}')
    if len(found) < 10:
        print(f"FAIL only {len(found)} metric names found in the dashboard and rules")
        return 1
    print(f"{len(found)} metric names, {len(missing)} missing from the scrapes")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
