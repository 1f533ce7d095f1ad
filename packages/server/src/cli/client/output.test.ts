import { describe, expect, it } from 'vitest';
import { ApiError, HangarUnreachableError } from './api-client.js';
import {
  CliError,
  describeError,
  formatTags,
  formatTime,
  formatValue,
  renderFields,
  renderQueryCaret,
  renderTable,
} from './output.js';

describe('renderQueryCaret', () => {
  it.each([
    { query: 'online AND %%', position: 11, length: 2, caret: '             ^~' },
    { query: 'x', position: 0, length: 1, caret: '  ^' },
    // An unexpected end of input points just past the last character.
    { query: 'tags.a =', position: 8, length: 0, caret: '          ^' },
    // Out-of-range offsets are clamped rather than drawn off the line.
    { query: 'abc', position: 99, length: 5, caret: '     ^' },
    { query: 'abc', position: 1, length: 50, caret: '   ^~' },
  ])('puts the caret at $position of "$query"', ({ query, position, length, caret }) => {
    expect(renderQueryCaret(query, position, length)).toBe(`  ${query}\n${caret}\n`);
  });

  it('flattens newlines and tabs one for one so offsets still line up', () => {
    expect(renderQueryCaret('online\r\n\tAND %%', 13, 2)).toBe('  online   AND %%\n               ^~\n');
  });

  it('shows control characters of the query as ?', () => {
    expect(renderQueryCaret('a\u001b[2Jb', 0)).toBe('  a?[2Jb\n  ^\n');
  });
});

describe('describeError', () => {
  const subject = { kind: 'device', id: 'd1', notFoundCode: 'DEVICE_NOT_FOUND' };

  it('names the subject of a 404 with its code or no code', () => {
    const coded = new ApiError({ status: 404, title: 'Device not found', detail: 'whatever', code: 'DEVICE_NOT_FOUND' });
    expect(describeError(coded, { subject })).toBe('device "d1" not found (404)');
    expect(describeError(new ApiError({ status: 404, title: 'Not Found' }), { subject })).toBe('device "d1" not found (404)');
  });

  it('keeps the server detail for a 404 about something else', () => {
    const err = new ApiError({ status: 404, title: 'Group not found', detail: 'group "g" not found', code: 'GROUP_NOT_FOUND' });
    expect(describeError(err, { subject })).toBe('group "g" not found (404)');
  });

  it('falls back to the title and folds field errors in once', () => {
    expect(describeError(new ApiError({ status: 502, title: 'Bad Gateway' }))).toBe('Bad Gateway (502)');
    const fields = new ApiError({
      status: 400,
      title: 'Invalid request',
      detail: 'body/name: too long',
      errors: [
        { path: 'body/name', message: 'too long' },
        { path: 'body/role', message: 'unknown role' },
      ],
    });
    expect(describeError(fields)).toBe('body/name: too long: body/role: unknown role (400)');
  });

  it('keeps every error on one line', () => {
    const err = new ApiError({ status: 500, title: 'x', detail: 'first\nsecond\r\n\tthird' });
    expect(describeError(err)).toBe('first second third (500)');
    expect(describeError(new Error('multi\nline'))).toBe('multi line');
    expect(describeError('thrown string')).toBe('thrown string');
  });

  it('passes CLI and connection messages through', () => {
    expect(describeError(new CliError('no API token: pass --token or set HANGAR_TOKEN'))).toBe(
      'no API token: pass --token or set HANGAR_TOKEN',
    );
    expect(describeError(new HangarUnreachableError('http://localhost:8080', 'ECONNREFUSED'))).toBe(
      'cannot reach Hangar at http://localhost:8080 (ECONNREFUSED)',
    );
  });
});

describe('renderTable', () => {
  const rows = [
    { id: 'a', name: 'short' },
    { id: 'longer-id', name: 'x' },
  ];
  const columns = [
    { header: 'ID', value: (r: (typeof rows)[number]) => r.id },
    { header: 'NAME', value: (r: (typeof rows)[number]) => r.name },
  ];

  it('aligns columns without borders or trailing spaces', () => {
    expect(renderTable(rows, columns)).toBe(['ID          NAME', 'a           short', 'longer-id   x', ''].join('\n'));
  });

  it('colours the header only when asked', () => {
    expect(renderTable(rows, columns)).not.toContain('\u001b[');
    expect(renderTable(rows, columns, true)).toContain('\u001b[');
  });

  it('keeps a row on one line whatever the data holds', () => {
    const out = renderTable([{ id: 'evil\nrow\u001b[31m', name: 'n' }], columns);
    expect(out.split('\n')).toHaveLength(3);
    expect(out).not.toContain('\u001b');
  });
});

describe('human formatting', () => {
  it('aligns key: value blocks', () => {
    expect(
      renderFields([
        ['id', 'd1'],
        ['last seen', '-'],
      ]),
    ).toBe('id:         d1\nlast seen:  -\n');
  });

  it('formats tags, times and empty values', () => {
    expect(formatTags({ z: '1', a: '2' })).toBe('a=2,z=1');
    expect(formatTags({})).toBe('-');
    expect(formatTime('2025-01-02T03:04:05.678Z')).toBe('2025-01-02T03:04:05Z');
    expect(formatTime(null)).toBe('-');
    expect(formatValue(null)).toBe('-');
    expect(formatValue(true)).toBe('yes');
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
  });
});
