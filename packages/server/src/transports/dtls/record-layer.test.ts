import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Ccm8 } from './cipher-ccm8.js';
import { ContentType, parseRecords, RecordReader, RecordWriter } from './record-layer.js';

function pair(cid?: Buffer): { writer: RecordWriter; reader: RecordReader } {
  const key = randomBytes(16);
  const iv = randomBytes(4);
  const writer = new RecordWriter();
  writer.peerCid = cid;
  writer.activate({ epoch: 1, cipher: new Ccm8(key, iv) });
  return { writer, reader: new RecordReader(1, new Ccm8(key, iv), cid) };
}

describe('record layer', () => {
  it('seals and opens application data in epoch 1', () => {
    const { writer, reader } = pair();
    const [record] = parseRecords(writer.record(ContentType.applicationData, Buffer.from('payload')), 0);
    expect(record).toMatchObject({ type: ContentType.applicationData, epoch: 1, seq: 0 });
    expect(reader.open(record!)).toMatchObject({ type: ContentType.applicationData, payload: Buffer.from('payload') });
  });

  it('writes RFC 9146 tls12_cid records with the real type inside, and opens them', () => {
    const cid = Buffer.from('0102030405060708', 'hex');
    const { writer, reader } = pair(cid);
    const datagram = writer.record(ContentType.alert, Buffer.from([1, 0]));
    expect(datagram[0]).toBe(ContentType.tls12Cid);
    expect(datagram.subarray(11, 19)).toEqual(cid);
    const [record] = parseRecords(datagram, 8);
    expect(record!.cid).toEqual(cid);
    expect(reader.open(record!)).toMatchObject({ type: ContentType.alert, payload: Buffer.from([1, 0]) });
  });

  it('refuses a tampered record, a replayed record and a record from another epoch', () => {
    const { writer, reader } = pair();
    const datagram = writer.record(ContentType.applicationData, Buffer.from('x'));
    const tampered = Buffer.from(datagram);
    tampered[tampered.length - 1]! ^= 1;
    expect(reader.open(parseRecords(tampered, 0)[0]!)).toBeUndefined();
    expect(reader.open(parseRecords(datagram, 0)[0]!)).toBeDefined();
    expect(reader.open(parseRecords(datagram, 0)[0]!)).toBeUndefined();
    const other = Buffer.from(writer.record(ContentType.applicationData, Buffer.from('y')));
    other.writeUInt16BE(2, 3);
    expect(reader.open(parseRecords(other, 0)[0]!)).toBeUndefined();
  });

  it('parses several records of one datagram and stops at a truncated one', () => {
    const { writer } = pair();
    const a = writer.record(ContentType.applicationData, Buffer.from('a'));
    const b = writer.record(ContentType.applicationData, Buffer.from('b'));
    expect(parseRecords(Buffer.concat([a, b]), 0)).toHaveLength(2);
    expect(parseRecords(Buffer.concat([a, b.subarray(0, b.length - 1)]), 0)).toHaveLength(1);
    expect(parseRecords(Buffer.alloc(5), 0)).toEqual([]);
  });
});
