#!/usr/bin/python3
"""lint.events: the log event ids the code emits are the ids that
docs/ARCHITECTURE.md's log table lists, no more and no fewer.

An id is the second argument of sl_log()/sl_log_emit*() or the first
of SL_ERR..SL_DEBUG, or any string literal shaped like one (AAA-BBB), which
catches ids handed to a helper that logs them. In the table, `X-*` or `*-Y`
stands for every id of that shape.
"""
import re
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
ID = r'[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*'
CALL = re.compile(r'\b(?:SL_(?:ERR|WARN|NOTICE|INFO|DEBUG)|'
                  r'sl_log(?:_emit(?:_limited)?)?)\s*\(\s*(?:[^,()"]+,\s*)?'
                  r'"(' + ID + r')"')
SHAPED = re.compile(r'"([A-Z]{2,5}-[A-Z0-9]+(?:-[A-Z0-9]+)*)"')


def code_ids():
    ids = {}
    for d in ('common', 'gateway', 'compute'):
        for f in sorted((TOP / d).glob('*.[ch]')):
            if f.name in ('sl_log.c', 'sl_log.h'):
                continue
            # comments out (their examples are not events), lines kept
            text = re.sub(r'/\*.*?\*/',
                          lambda m: '\n' * m.group(0).count('\n'),
                          f.read_text(), flags=re.S)
            for m in list(CALL.finditer(text)) + list(SHAPED.finditer(text)):
                line = text.count('\n', 0, m.start()) + 1
                ids.setdefault(m.group(1), f'{d}/{f.name}:{line}')
    return ids


def table_ids():
    text = (TOP / 'docs' / 'ARCHITECTURE.md').read_text().splitlines()
    try:
        start = text.index('| id | level | meaning |')
    except ValueError:
        sys.exit('lint.events: docs/ARCHITECTURE.md has no '
                 '"| id | level | meaning |" table')
    ids = set()
    for row in text[start + 2:]:
        if not row.startswith('|'):
            break
        first = row.split('|')[1]
        ids.update(re.findall(r'`([A-Z*][A-Z0-9*-]*)`', first))
    return ids


def covered(i, table):
    for t in table:
        pat = '^' + re.escape(t).replace(r'\*', '[A-Z0-9-]+') + '$'
        if re.match(pat, i):
            return True
    return False


def main():
    code, table = code_ids(), table_ids()
    missing = sorted(i for i in code if not covered(i, table))
    unused = sorted(t for t in table
                    if not any(covered(i, {t}) for i in code))
    for i in missing:
        print(f'lint.events: {i} ({code[i]}) is not in '
              'docs/ARCHITECTURE.md\'s log table')
    for t in unused:
        print(f'lint.events: {t} is in docs/ARCHITECTURE.md\'s log table '
              'but no code emits it')
    if missing or unused:
        return 1
    print(f'lint.events: {len(code)} ids, all in the table, '
          f'{len(table)} table entries, all emitted')
    return 0


if __name__ == '__main__':
    sys.exit(main())
