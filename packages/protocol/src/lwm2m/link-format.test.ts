import { describe, expect, it } from 'vitest';
import { formatLinkFormat, parseLinkFormat, parseRegistrationLinks } from './link-format.js';
import { Lwm2mCodecError } from './types.js';

describe('CoRE link format', () => {
  it('reads targets and typed attributes', () => {
    expect(parseLinkFormat('</>;rt="oma.lwm2m";ct=110,</1/0>,</3>;ver=1.1,</3/0/9>;pmin=10;pmax=60;gt=20.5;obs')).toEqual([
      { target: '/', attributes: { rt: 'oma.lwm2m', ct: 110 } },
      { target: '/1/0', attributes: {} },
      { target: '/3', attributes: { ver: '1.1' } },
      { target: '/3/0/9', attributes: { pmin: 10, pmax: 60, gt: 20.5, obs: true } },
    ]);
  });

  it('keeps unknown attributes as strings and reads escapes in quoted values', () => {
    expect(parseLinkFormat('</a>;foo=12;bar="x\\"y";title="a,b;c"')).toEqual([{ target: '/a', attributes: { foo: '12', bar: 'x"y', title: 'a,b;c' } }]);
  });

  it('tolerates whitespace and an empty document', () => {
    expect(parseLinkFormat('')).toEqual([]);
    expect(parseLinkFormat(' </1/0> ;ssid=1 ,\n</3/0>')).toEqual([
      { target: '/1/0', attributes: { ssid: 1 } },
      { target: '/3/0', attributes: {} },
    ]);
  });

  it.each([
    ['</3/0', /never closed/],
    ['<>;;', /empty link target/],
    ['</3/0>;;', /bad attribute name/],
    ['</3/0>;pmin=', /no value/],
    ['</3/0>;rt="open', /unterminated/],
    ['</3/0></4/0>', /expected ","/],
    ['/3/0', /expected "<"/],
    ['</3/0>,', /expected "<"/],
    ['</a b>', /bad character/],
  ])('refuses %j', (text, message) => {
    expect(() => parseLinkFormat(text)).toThrow(Lwm2mCodecError);
    expect(() => parseLinkFormat(text)).toThrow(message);
  });

  it('writes what it reads', () => {
    const text = '</>;rt="oma.lwm2m";ct=110,</1/0>,</3>;ver=1.1,</3/0/9>;pmin=10;obs;foo=bar;title="a b"';
    expect(formatLinkFormat(parseLinkFormat(text))).toBe(text);
    expect(formatLinkFormat([{ target: '/x', attributes: { ct: '60 110' } }])).toBe('</x>;ct="60 110"');
  });

  it('reads Discover and Bootstrap-Discover answers (Core §6.3.3, §6.1.7.3)', () => {
    expect(parseLinkFormat('</3>;ver=1.1,</3/0>,</3/0/7>;dim=2,</3/0/13>;pmin=10;pmax=60')[2]).toEqual({ target: '/3/0/7', attributes: { dim: 2 } });
    expect(parseLinkFormat('</>;lwm2m=1.1,</0/0>;ssid=101;uri="coaps://hangar.example:5684",</1/0>;ssid=101')).toEqual([
      { target: '/', attributes: { lwm2m: '1.1' } },
      { target: '/0/0', attributes: { ssid: 101, uri: 'coaps://hangar.example:5684' } },
      { target: '/1/0', attributes: { ssid: 101 } },
    ]);
    expect(formatLinkFormat([{ target: '/0/0', attributes: { ssid: 101, uri: 'coaps://h:5684' } }])).toBe('</0/0>;ssid=101;uri="coaps://h:5684"');
  });

  it('refuses more links than the limit', () => {
    expect(() => parseLinkFormat(Array.from({ length: 10_001 }, (_, i) => `</${i}>`).join(','))).toThrow(/more than 10000 links/);
  });
});

describe('registration links', () => {
  it('reads objects, versions, instances and content formats', () => {
    expect(parseRegistrationLinks('</>;rt="oma.lwm2m";ct=110,</1/0>,</3>;ver=1.1,</3/0>,</5>,</3303/1>,</3303/0>,</1/1>')).toEqual({
      rootPath: '/',
      contentFormats: [110],
      objects: [
        { objectId: 1, instances: [0, 1] },
        { objectId: 3, version: '1.1', instances: [0] },
        { objectId: 5, instances: [] },
        { objectId: 3303, instances: [0, 1] },
      ],
    });
  });

  it('reads an alternate root path and a list of content formats', () => {
    expect(parseRegistrationLinks('</lwm2m>;rt="oma.lwm2m";ct="60 110 112 11542",</lwm2m/1/101>,</lwm2m/3/0>')).toEqual({
      rootPath: '/lwm2m',
      contentFormats: [60, 110, 112, 11542],
      objects: [
        { objectId: 1, instances: [101] },
        { objectId: 3, instances: [0] },
      ],
    });
  });

  it('takes the content formats from a bare root link without rt', () => {
    expect(parseRegistrationLinks('</>;ct="110 11543",</3/0>')).toEqual({ rootPath: '/', contentFormats: [110, 11543], objects: [{ objectId: 3, instances: [0] }] });
  });

  it('reads a plain LwM2M 1.0 registration', () => {
    expect(parseRegistrationLinks('</1/0>,</3/0>').objects.map((o) => o.objectId)).toEqual([1, 3]);
    expect(parseRegistrationLinks('').objects).toEqual([]);
  });

  it.each([
    ['</1/0/1>', /more than an object instance/],
    ['</foo>', /not an object or instance id/],
    ['</lwm2m>;rt="oma.lwm2m",</1/0>', /not under the root path/],
    ['</1/0', /never closed/],
  ])('refuses %j', (text, message) => {
    expect(() => parseRegistrationLinks(text)).toThrow(message);
  });
});
