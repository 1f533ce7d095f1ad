/**
 * A small, non-validating XML reader for DDF files: elements, attributes, text, CDATA, comments
 * and the XML declaration. It refuses any DOCTYPE, so no entity can be declared or expanded
 * (no "billion laughs", no external entities); only the five predefined entities and character
 * references are read. Hand-written rather than a dependency because DDF needs this subset only
 * and the safe behaviour is then true by construction, not by option.
 */

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlNode[];
  /** 1-based line of the start tag, for error messages. */
  line: number;
}
export type XmlNode = XmlElement | string;

export class XmlSyntaxError extends Error {
  override readonly name = 'XmlSyntaxError';
}

const MAX_DEPTH = 32;
const MAX_ELEMENTS = 100_000;
const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function parseXml(text: string): XmlElement {
  let pos = 0;
  let elements = 0;
  const newlines: number[] = [];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) newlines.push(i);
  const lineAt = (at: number): number => {
    let lo = 0;
    let hi = newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (newlines[mid]! < at) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
  const fail = (message: string, at = pos): never => {
    throw new XmlSyntaxError(`line ${lineAt(at)}: ${message}`);
  };

  const skipMisc = (): void => {
    for (;;) {
      while (pos < text.length && /\s/.test(text[pos]!)) pos += 1;
      if (text.startsWith('<?', pos)) {
        const end = text.indexOf('?>', pos + 2);
        if (end < 0) fail('unterminated processing instruction');
        pos = end + 2;
      } else if (text.startsWith('<!--', pos)) {
        const end = text.indexOf('-->', pos + 4);
        if (end < 0) fail('unterminated comment');
        pos = end + 3;
      } else if (text.startsWith('<!DOCTYPE', pos) || text.startsWith('<!doctype', pos)) {
        fail('a DOCTYPE is not accepted (DDF files need no DTD, and entities are not expanded)');
      } else {
        return;
      }
    }
  };

  const decodeText = (raw: string, at: number): string =>
    raw.replace(/&([^;\s&<]{0,12});?/g, (match, ref: string) => {
      if (!match.endsWith(';')) fail(`"&" not followed by an entity reference`, at);
      if (ref.startsWith('#x') || ref.startsWith('#X')) return codePoint(parseInt(ref.slice(2), 16), match, at);
      if (ref.startsWith('#')) return codePoint(Number(ref.slice(1)), match, at);
      const value = PREDEFINED[ref];
      if (value === undefined) fail(`unknown entity ${match} (only the five predefined entities are read)`, at);
      return value!;
    });
  const codePoint = (n: number, match: string, at: number): string => {
    if (!Number.isInteger(n) || n <= 0 || n > 0x10ffff) fail(`bad character reference ${match}`, at);
    return String.fromCodePoint(n);
  };

  const readName = (): string => {
    const m = NAME.exec(text.slice(pos, pos + 256));
    if (!m) fail('expected a name');
    pos += m![0].length;
    return m![0];
  };

  const readElement = (depth: number): XmlElement => {
    if (depth > MAX_DEPTH) fail(`elements nested deeper than ${MAX_DEPTH}`);
    elements += 1;
    if (elements > MAX_ELEMENTS) fail(`more than ${MAX_ELEMENTS} elements`);
    const start = pos;
    pos += 1; // '<'
    const name = readName();
    const element: XmlElement = { name, attributes: {}, children: [], line: lineAt(start) };
    for (;;) {
      const before = pos;
      while (pos < text.length && /\s/.test(text[pos]!)) pos += 1;
      if (text.startsWith('/>', pos)) {
        pos += 2;
        return element;
      }
      if (text[pos] === '>') {
        pos += 1;
        break;
      }
      if (pos >= text.length) fail(`unterminated start tag <${name}>`, start);
      if (pos === before) fail(`expected whitespace, ">" or "/>" in <${name}>`);
      const attr = readName();
      while (/\s/.test(text[pos] ?? '')) pos += 1;
      if (text[pos] !== '=') fail(`attribute ${attr} of <${name}> has no value`);
      pos += 1;
      while (/\s/.test(text[pos] ?? '')) pos += 1;
      const quote = text[pos];
      if (quote !== '"' && quote !== "'") fail(`value of attribute ${attr} of <${name}> is not quoted`);
      const end = text.indexOf(quote!, pos + 1);
      if (end < 0) fail(`unterminated value of attribute ${attr} of <${name}>`);
      const raw = text.slice(pos + 1, end);
      if (raw.includes('<')) fail(`"<" in the value of attribute ${attr} of <${name}>`);
      if (attr in element.attributes) fail(`attribute ${attr} repeated on <${name}>`);
      element.attributes[attr] = decodeText(raw, pos);
      pos = end + 1;
    }
    for (;;) {
      if (pos >= text.length) fail(`<${name}> is never closed`, start);
      if (text.startsWith('</', pos)) {
        pos += 2;
        const closing = readName();
        if (closing !== name) fail(`</${closing}> closes <${name}> (line ${element.line})`);
        while (/\s/.test(text[pos] ?? '')) pos += 1;
        if (text[pos] !== '>') fail(`expected ">" after </${closing}`);
        pos += 1;
        return element;
      }
      if (text.startsWith('<!--', pos)) {
        const end = text.indexOf('-->', pos + 4);
        if (end < 0) fail('unterminated comment');
        pos = end + 3;
      } else if (text.startsWith('<![CDATA[', pos)) {
        const end = text.indexOf(']]>', pos + 9);
        if (end < 0) fail('unterminated CDATA section');
        element.children.push(text.slice(pos + 9, end));
        pos = end + 3;
      } else if (text.startsWith('<?', pos)) {
        const end = text.indexOf('?>', pos + 2);
        if (end < 0) fail('unterminated processing instruction');
        pos = end + 2;
      } else if (text.startsWith('<!', pos)) {
        fail('markup declarations are not accepted');
      } else if (text[pos] === '<') {
        element.children.push(readElement(depth + 1));
      } else {
        const next = text.indexOf('<', pos);
        const end = next < 0 ? text.length : next;
        element.children.push(decodeText(text.slice(pos, end), pos));
        pos = end;
      }
    }
  };

  if (text.charCodeAt(0) === 0xfeff) pos = 1;
  skipMisc();
  if (text[pos] !== '<') fail('expected the root element');
  const root = readElement(1);
  skipMisc();
  if (pos < text.length) fail('content after the root element');
  return root;
}

/** The element's child elements with that name. */
export function childElements(element: XmlElement, name?: string): XmlElement[] {
  return element.children.filter((c): c is XmlElement => typeof c !== 'string' && (name === undefined || c.name === name));
}

/** The concatenated text of an element (its direct text and CDATA). */
export function textOf(element: XmlElement): string {
  return element.children.filter((c): c is string => typeof c === 'string').join('');
}
