import { describe, expect, it } from 'vitest';
import { MAX_DDF_BYTES, parseDdf } from './ddf.js';
import { ObjectRegistry } from './object-registry.js';
import { Lwm2mCodecError } from './types.js';

function item(id: string, fields: Partial<Record<string, string>> = {}): string {
  const f = { Name: 'Sensor Value', Operations: 'R', MultipleInstances: 'Single', Mandatory: 'Mandatory', Type: 'Float', RangeEnumeration: '', Units: '', Description: 'Last value.', ...fields };
  return `<Item ID="${id}">${Object.entries(f)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<${k}>${v}</${k}>`)
    .join('')}</Item>`;
}

function ddf(items: string, head = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<LWM2M xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://openmobilealliance.org/tech/profiles/LWM2M.xsd">
  <Object ObjectType="MODefinition">
    <Name>Widget</Name>
    <Description1><![CDATA[A <widget> & more.]]></Description1>
    <ObjectID>33000</ObjectID>
    <ObjectURN>urn:oma:lwm2m:x:33000:1.1</ObjectURN>
    <LWM2MVersion>1.1</LWM2MVersion>
    <ObjectVersion>1.1</ObjectVersion>
    <MultipleInstances>Multiple</MultipleInstances>
    <Mandatory>Optional</Mandatory>${head}
    <Resources>
      ${items}
    </Resources>
    <Description2></Description2>
  </Object>
</LWM2M>`;
}

describe('DDF parsing', () => {
  it('reads an object definition', () => {
    const [model, ...rest] = parseDdf(
      ddf(
        item('5700', { Units: 'Cel' }) +
          item('5605', { Name: 'Reset', Operations: 'E', Type: '', Mandatory: 'Optional' }) +
          item('5', { Name: 'Ratio &amp; &#x3C;x&#62;', Operations: 'RW', MultipleInstances: 'Multiple', Type: 'Unsigned Integer', RangeEnumeration: '0..100' }) +
          item('6', { Name: 'Link', Type: 'objlnk' }),
      ),
    );
    expect(rest).toEqual([]);
    expect(model).toEqual({
      id: 33000,
      name: 'Widget',
      description: 'A <widget> & more.',
      version: '1.1',
      lwm2mVersion: '1.1',
      urn: 'urn:oma:lwm2m:x:33000:1.1',
      multiple: true,
      mandatory: false,
      resources: [
        { id: 5700, name: 'Sensor Value', operations: 'R', multiple: false, mandatory: true, type: 'Float', units: 'Cel', description: 'Last value.' },
        { id: 5605, name: 'Reset', operations: 'E', multiple: false, mandatory: false, type: 'none', description: 'Last value.' },
        { id: 5, name: 'Ratio & <x>', operations: 'RW', multiple: true, mandatory: true, type: 'Unsigned Integer', rangeEnumeration: '0..100', description: 'Last value.' },
        { id: 6, name: 'Link', operations: 'R', multiple: false, mandatory: true, type: 'Objlnk', description: 'Last value.' },
      ],
    });
    const registry = new ObjectRegistry([model!]);
    expect(registry.resource(33000, 5700)?.units).toBe('Cel');
  });

  it('keeps a readable item without a Type as value-less, as one OMNA file has it', () => {
    expect(parseDdf(ddf(item('1', { Type: '' })))[0]?.resources[0]?.type).toBe('none');
  });

  it('defaults the object version to 1.0', () => {
    const [model] = parseDdf(ddf(item('1')).replace('<ObjectVersion>1.1</ObjectVersion>', ''));
    expect(model?.version).toBe('1.0');
  });

  it.each([
    ['a misspelt type', ddf(item('5700', { Type: 'Flaot' })), 'DDF object 33000, Item ID="5700": Type "Flaot" is not a LwM2M type'],
    ['a bad operation', ddf(item('5700', { Operations: 'RX' })), /Item ID="5700": Operations "RX" is not one of/],
    ['a bad multiplicity', ddf(item('5700', { MultipleInstances: 'Many' })), /Item ID="5700": MultipleInstances "Many" is not Single or Multiple/],
    ['a missing name', ddf(item('5700', { Name: undefined })), /Item ID="5700": <Name> is missing/],
    ['a duplicate item', ddf(item('1') + item('1')), /Item ID="1" is defined twice/],
    ['a bad item id', ddf(item('70000')), /Item ID="70000": ID "70000" is not an id/],
    ['an item without ID', ddf('<Item><Name>x</Name></Item>'), /an <Item> \(line \d+\) has no ID attribute/],
    ['a missing ObjectID', ddf(item('1')).replace('<ObjectID>33000</ObjectID>', ''), /<ObjectID> is missing/],
    ['a bad object version', ddf(item('1')).replace('<ObjectVersion>1.1</ObjectVersion>', '<ObjectVersion>one</ObjectVersion>'), /ObjectVersion "one"/],
    ['another root element', '<Objects/>', /root element is <Objects>, expected <LWM2M>/],
    ['no object', '<LWM2M></LWM2M>', /holds no <Object>/],
  ])('refuses %s', (_what, xml, message) => {
    expect(() => parseDdf(xml)).toThrow(Lwm2mCodecError);
    expect(() => parseDdf(xml)).toThrow(message);
  });

  it.each([
    ['a DOCTYPE with entities (billion laughs)', '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><LWM2M>&lol2;</LWM2M>', /DOCTYPE is not accepted/],
    ['an external entity', '<!DOCTYPE x SYSTEM "file:///etc/passwd"><LWM2M/>', /DOCTYPE is not accepted/],
    ['an undeclared entity', ddf(item('1', { Name: '&xxe;' })), /unknown entity &xxe;/],
    ['a bare ampersand', ddf(item('1', { Name: 'a & b' })), /"&" not followed by an entity reference/],
    ['mismatched tags', '<LWM2M><Object></LWM2M>', /<\/LWM2M> closes <Object>/],
    ['an unclosed element', '<LWM2M><Object>', /never closed/],
    ['text after the root', '<LWM2M><Object/></LWM2M>junk', /content after the root element/],
    ['an unquoted attribute', '<LWM2M a=1/>', /not quoted/],
    ['deep nesting', `${'<a>'.repeat(100)}${'</a>'.repeat(100)}`, /nested deeper than 32/],
    ['empty text', '', /expected the root element/],
  ])('refuses XML with %s', (_what, xml, message) => {
    expect(() => parseDdf(xml)).toThrow(Lwm2mCodecError);
    expect(() => parseDdf(xml)).toThrow(message);
  });

  it('refuses an oversized file before reading it', () => {
    expect(() => parseDdf(' '.repeat(MAX_DDF_BYTES + 1))).toThrow(/above the limit/);
  });

  it('names the line of a syntax error', () => {
    expect(() => parseDdf('<LWM2M>\n<Object>\n<Name>x</Nme>\n</Object></LWM2M>')).toThrow(/line 3: <\/Nme> closes <Name>/);
  });
});
