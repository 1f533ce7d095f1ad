import { describe, expect, it } from 'vitest';
import { HangarError } from '../../../errors.js';
import { checkDerSequence, decodePemBlocks, decodeSinglePem, encodePem, MAX_PEM_BYTES, PEM_LABEL } from './pem.js';

const CERT = { what: 'certificate', labels: [PEM_LABEL.certificate] };

// A DER SEQUENCE of 100 content bytes, long enough for a multi-line PEM body.
const DER = Uint8Array.from([0x30, 100, ...Array.from({ length: 100 }, (_, i) => i)]);
const PEM = encodePem(DER, 'CERTIFICATE');

function failure(fn: () => unknown): HangarError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HangarError);
    expect((err as HangarError).code).toBe('VALIDATION_FAILED');
    return err as HangarError;
  }
  throw new Error('expected a VALIDATION_FAILED error');
}

describe('PEM encoding', () => {
  it('writes 64-character base64 lines, LF line ends and a final newline', () => {
    const lines = PEM.split('\n');
    expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----');
    expect(lines[1]).toHaveLength(64);
    expect(lines.at(-2)).toBe('-----END CERTIFICATE-----');
    expect(lines.at(-1)).toBe('');
  });

  it('round-trips through strict decoding', () => {
    expect(decodeSinglePem(PEM, CERT)).toEqual(DER);
  });
});

describe('strict PEM decoding', () => {
  it('accepts CRLF line ends and whitespace around the block', () => {
    expect(decodeSinglePem(`\r\n  ${PEM.replace(/\n/g, '\r\n')}\n\n`, CERT)).toEqual(DER);
  });

  it('accepts any of the expected labels', () => {
    const csr = encodePem(DER, PEM_LABEL.newCertificateRequest);
    expect(decodeSinglePem(csr, { what: 'CSR', labels: [PEM_LABEL.certificateRequest, PEM_LABEL.newCertificateRequest] })).toEqual(DER);
  });

  it('reads several blocks in order', () => {
    const blocks = decodePemBlocks(PEM + encodePem(DER, 'X509 CRL'), 'bundle');
    expect(blocks.map((b) => b.label)).toEqual(['CERTIFICATE', 'X509 CRL']);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['garbage text', 'hello, I am not a certificate', /not PEM: expected a "-----BEGIN CERTIFICATE-----" block/],
    ['an empty string', '', /not PEM/],
    ['a non-string', 42, /must be a PEM string/],
    ['a block cut mid-base64', PEM.slice(0, 80), /truncated \(no "-----END CERTIFICATE-----" line\)/],
    ['two blocks', PEM + PEM, /expected one PEM block, found 2/],
    ['text before the block', `subject=CN = x\n${PEM}`, /unexpected text outside the PEM block/],
    ['text after the block', `${PEM}trailing`, /unexpected text after the PEM block/],
    ['the wrong label', encodePem(DER, 'CERTIFICATE REQUEST'), /expected a PEM "CERTIFICATE" block but got "CERTIFICATE REQUEST"/],
    ['an encrypted key', encodePem(DER, 'ENCRYPTED PRIVATE KEY'), /encrypted private keys are not supported/],
    ['PEM headers', PEM.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n\n'), /PEM headers/],
    ['an empty block', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n', /the PEM block is empty/],
    ['bad base64', PEM.replace(/\n[A-Za-z0-9+/]{4}/, '\n!!!!'), /not valid base64/],
    ['base64 missing its padding', '-----BEGIN CERTIFICATE-----\nMAA\n-----END CERTIFICATE-----\n', /not valid base64/],
    ['a mismatched END label', PEM.replace('END CERTIFICATE', 'END CERTIFICATE REQUEST'), /truncated/],
    ['DER cut short inside a complete block', encodePem(DER.slice(0, 60), 'CERTIFICATE'), /DER content is truncated \(60 of 102 bytes\)/],
    ['DER with trailing bytes', encodePem(Uint8Array.from([...DER, 0, 0]), 'CERTIFICATE'), /2 trailing bytes/],
    ['content that is not a SEQUENCE', encodePem(Uint8Array.from([0x04, 1, 0]), 'CERTIFICATE'), /not a DER structure/],
    ['more than 64 KiB', PEM + ' '.repeat(MAX_PEM_BYTES), /larger than 64 KiB/],
  ];
  it.each(bad)('refuses %s', (_name, input, message) => {
    expect(failure(() => decodeSinglePem(input, CERT)).message).toMatch(message);
  });
});

describe('DER framing', () => {
  it('reads long-form lengths', () => {
    const long = Uint8Array.from([0x30, 0x82, 0x01, 0x00, ...new Uint8Array(256)]);
    expect(() => checkDerSequence(long, 'x')).not.toThrow();
  });

  it('refuses the BER indefinite length', () => {
    expect(failure(() => checkDerSequence(Uint8Array.from([0x30, 0x80, 0, 0]), 'x')).message).toMatch(/not valid DER/);
  });
});
