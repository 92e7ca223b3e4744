#!/usr/bin/env python3
"""Strict reader of the Prometheus text exposition format, version 0.0.4
(https://prometheus.io/docs/instrumenting/exposition_formats/), as node_exporter's
textfile collector reads it. Fails (exit 1, naming the line) on anything the format
does not allow or that the collector would reject: a malformed line, a bad escape, a
TYPE after the family's first sample or given twice, a family split in two, the same
series twice, a missing final newline.

Usage: promparse.py FILE                  prints every series, sorted: 'name{a="b"} value'
       promparse.py FILE SERIES...        prints the value of each SERIES (exactly as the
                                          first form prints it, labels sorted), or fails
"""
import math
import re
import sys

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*'
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}
SUFFIXES = ('_bucket', '_count', '_sum')


class ParseError(Exception):
    pass


def parse_value(text, where):
    if text in ('NaN', '+Inf', '-Inf', 'Inf'):
        return float(text.replace('Inf', 'inf').replace('NaN', 'nan'))
    if not re.fullmatch(r'[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?', text):
        raise ParseError(f'{where}: not a number: {text!r}')
    return float(text)


def parse_labels(text, where):
    """text: what is between { and }. Returns a dict; raises ParseError."""
    labels, i = {}, 0
    while i < len(text):
        m = re.compile(LABEL + r'="').match(text, i)
        if not m:
            raise ParseError(f'{where}: bad label at {text[i:]!r}')
        name = text[i:m.end() - 2]
        i = m.end()
        value = []
        while True:
            if i >= len(text):
                raise ParseError(f'{where}: unterminated label value of {name}')
            c = text[i]
            if c == '\\':
                nxt = text[i + 1:i + 2]
                if nxt not in ('\\', '"', 'n'):
                    raise ParseError(f'{where}: bad escape \\{nxt} in label {name}')
                value.append('\n' if nxt == 'n' else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == '\n':
                raise ParseError(f'{where}: newline in label value of {name}')
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise ParseError(f'{where}: label {name} twice')
        labels[name] = ''.join(value)
        if i < len(text):
            if text[i] != ',':
                raise ParseError(f'{where}: expected "," after label {name}')
            i += 1
    return labels


def family_of(name, types):
    if name in types:
        return name
    for s in SUFFIXES:
        if name.endswith(s) and name[:-len(s)] in types:
            return name[:-len(s)]
    return name


def series_key(name, labels):
    inner = ','.join('%s="%s"' % (k, labels[k].replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n'))
                     for k in sorted(labels))
    return f'{name}{{{inner}}}' if labels else name


def parse(text, path='-'):
    if text and not text.endswith('\n'):
        raise ParseError(f'{path}: no newline at the end')
    types, helps, series = {}, {}, {}
    seen_samples, done, current = set(), set(), None
    for n, line in enumerate(text.split('\n')[:-1] if text else [], 1):
        where = f'{path}:{n}'
        if line.strip() == '':
            continue
        if line.startswith('#'):
            m = re.fullmatch(r'#\s+(HELP|TYPE)\s+(' + NAME + r')(?:\s+(.*))?', line)
            if not m:
                continue  # a plain comment
            kind, name, rest = m.group(1), m.group(2), m.group(3) or ''
            if kind == 'TYPE':
                if rest not in TYPES:
                    raise ParseError(f'{where}: unknown type {rest!r} for {name}')
                if name in types:
                    raise ParseError(f'{where}: second TYPE for {name}')
                if name in seen_samples:
                    raise ParseError(f'{where}: TYPE for {name} after its samples')
                types[name] = rest
            else:
                if name in helps:
                    raise ParseError(f'{where}: second HELP for {name}')
                if re.search(r'\\[^\\n]', rest):
                    raise ParseError(f'{where}: bad escape in HELP of {name}')
                helps[name] = rest
            continue
        m = re.fullmatch(r'(' + NAME + r')(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*', line)
        if not m:
            raise ParseError(f'{where}: not a sample line: {line!r}')
        name, labels = m.group(1), parse_labels(m.group(2) or '', where)
        value = parse_value(m.group(3), where)
        fam = family_of(name, types)
        if fam != current:
            if fam in done:
                raise ParseError(f'{where}: samples of {fam} are not together')
            if current is not None:
                done.add(current)
            current = fam
        seen_samples.add(fam)
        key = series_key(name, labels)
        if key in series:
            raise ParseError(f'{where}: {key} twice')
        if types.get(fam) == 'counter' and (value < 0 or math.isnan(value)):
            raise ParseError(f'{where}: counter {key} is {value}')
        series[key] = value
    return series, types, helps


def fmt(v):
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding='utf-8') as f:
            text = f.read()
        series, _, _ = parse(text, argv[1])
    except (OSError, UnicodeDecodeError, ParseError) as e:
        print(f'promparse: {e}', file=sys.stderr)
        return 1
    if len(argv) == 2:
        for k in sorted(series):
            print(k, fmt(series[k]))
        return 0
    rc = 0
    for want in argv[2:]:
        if want in series:
            print(fmt(series[want]))
        else:
            print(f'promparse: {argv[1]}: no series {want}', file=sys.stderr)
            rc = 1
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv))
