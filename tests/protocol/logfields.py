"""logfields.py: parse mxguard's log lines by the grammar of mxguard(8),
LOGGING, and print one line per decision: its fields as key=value with the
values unescaped (repr), or "BROKEN: line" where a line does not parse.
Used by run_miltertest.sh on the daemon's log.

logfields.py --records FILE prints each decision record (a line with
"record=") as one JSON object of its fields, values unescaped (bytes that
are not UTF-8 as U+FFFD), or "BROKEN: line" where it does not parse or a
key comes twice. Used by tests/e2e/postfix_records.sh."""
import json
import re
import sys

BARE = re.compile(r'[\x21\x23-\x3c\x3e-\x5b\x5d-\x7e]+')


def parse(text):
    fields, i = [], 0
    while i < len(text):
        m = re.compile(r'[a-z0-9_.]+=').match(text, i)
        if not m:
            if text.startswith(": ", i) or text.startswith(":", i):
                return fields  # mxguard's own text ends the fields
            raise ValueError(text[i:])
        key, i = m.group(0)[:-1], m.end()
        if i < len(text) and text[i] == '"':
            i, value = i + 1, bytearray()
            while text[i] != '"':
                c = text[i]
                if c == '\\':
                    if text[i + 1] in '"\\':
                        value += text[i + 1].encode()
                        i += 2
                    elif text[i + 1] == 'x':
                        value.append(int(text[i + 2:i + 4], 16))
                        i += 4
                    else:
                        raise ValueError(text[i:])
                elif c == '=' or ord(c) < 0x20 or ord(c) >= 0x7f:
                    raise ValueError(text[i:])
                else:
                    value += c.encode()
                    i += 1
            i += 1
        else:
            m = BARE.match(text, i)
            if not m:
                raise ValueError(text[i:])
            value, i = m.group(0).encode(), m.end()
        fields.append((key, bytes(value)))
        if i < len(text) and text[i] == ' ':
            i += 1
    return fields


def parsed(path, start, keep):
    """Each line holding start that keep(line) accepts: (line, its fields), fields None if broken."""
    for line in open(path, encoding='latin-1'):
        line = line.rstrip('\n')
        at = line.find(start)
        if at < 0 or not keep(line):
            continue
        try:
            yield line, parse(line[at:])
        except (ValueError, IndexError):
            yield line, None


def records(path):
    for line, fields in parsed(path, 'record=', lambda line: True):
        keys = [k for k, _ in fields or []]
        if fields is None or len(set(keys)) != len(keys):
            print('BROKEN: ' + line)
            continue
        print(json.dumps({k: v.decode('utf-8', 'replace') for k, v in fields}))


if sys.argv[1] == '--records':
    records(sys.argv[2])
    sys.exit(0)

for line, fields in parsed(sys.argv[1], 'session=', lambda line: ' stage=' in line):
    if fields is None:
        print('BROKEN: ' + line)
        continue
    print(' '.join('%s=%r' % (k, v.decode('latin-1')) for k, v in fields))
