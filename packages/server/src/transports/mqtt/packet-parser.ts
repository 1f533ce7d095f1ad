import { isUtf8 } from 'node:buffer';
import { parser as createParser, type Parser } from 'mqtt-packet';

/** The parts of mqtt-packet 9's parser that the string check below reads (pinned in package-lock). */
interface ParserInternals {
  _list: { slice(start: number, end: number): Buffer };
  _pos: number;
  _emitError(err: Error): void;
}

type StringParser = (this: ParserInternals) => string | null;

const parseString = (createParser() as unknown as { _parseString: StringParser })._parseString;

/**
 * mqtt-packet decodes strings with replacement characters and lets U+0000 through; MQTT says
 * both make the packet malformed ([MQTT-1.5.4-1], [MQTT-1.5.4-2]; 3.1.1 [MQTT-1.5.3-1/-2]), so
 * the connection ends (5.0 DISCONNECT 0x81) instead of the topic being refused as unknown.
 * The bytes are looked at again only when decoding produced U+FFFD, which a valid string may
 * also hold: the common case costs two scans of the string and no allocation.
 */
function parseCheckedString(this: ParserInternals): string | null {
  // A string is a 2-byte length then the bytes [MQTT-1.5.4].
  const start = this._pos + 2;
  const result = parseString.call(this);
  if (result === null) return null;
  if (result.includes('\u0000')) {
    this._emitError(new Error('a UTF-8 string holds U+0000'));
    return null;
  }
  if (result.includes('\uFFFD') && !isUtf8(this._list.slice(start, this._pos))) {
    this._emitError(new Error('a string is not well-formed UTF-8'));
    return null;
  }
  return result;
}

/** An mqtt-packet parser that also refuses malformed UTF-8 strings. */
export function createPacketParser(): Parser {
  const parser = createParser();
  (parser as unknown as { _parseString: StringParser })._parseString = parseCheckedString;
  return parser;
}
