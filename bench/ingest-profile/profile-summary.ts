/**
 * Where a V8 CPU profile's samples fell: self time per function and per area (file or
 * package), as Markdown, with microseconds per message when the message count is given.
 */

export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }>;
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

const AREAS: Array<[RegExp, string]> = [
  [/node_modules\/mqtt-packet\//, 'mqtt-packet'],
  [/node_modules\/better-sqlite3\//, 'better-sqlite3 (JS side)'],
  [/node_modules\/kysely\//, 'kysely'],
  [/node_modules\/pg/, 'pg'],
  [/node_modules\/pino/, 'pino'],
  [/node_modules\/(bl|readable-stream|process-nextick-args|safe-buffer|buffer)\//, 'bl / readable-stream (mqtt-packet deps)'],
  [/node_modules\/([^/]+)\//, 'node_modules: $1'],
  [/^node:/, 'node: $0'],
];

function areaOf(url: string, name: string): string {
  if (url === '') return `(${name || 'native'})`;
  for (const [re, label] of AREAS) {
    const m = re.exec(url);
    if (m) return label.replace('$1', m[1] ?? '').replace('$0', url.replace(/^node:/, ''));
  }
  const src = /\/(packages|bench)\/(.*)$/.exec(url);
  return src ? `${src[1]}/${src[2]}` : url;
}

export function summarizeProfile(profile: CpuProfile, options: { top: number; perMessageDivisor?: number }): string {
  // Self time from the sample timeline (exact deltas), not hitCount × nominal interval.
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i += 1) {
    const dt = deltas[i + 1] ?? 0;
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + dt);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    if (us === 0) continue;
    const f = node.callFrame;
    const short = f.url.replace(/^.*\/(node_modules|packages|bench)\//, '$1/');
    const key = `${f.functionName || '(anonymous)'} ${short}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const area = areaOf(f.url, f.functionName);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
  }
  // Inclusive time: each sample counts once for every distinct function on its stack.
  const parent = new Map<number, number>();
  const nodeKey = new Map<number, string>();
  for (const node of profile.nodes) {
    for (const c of node.children ?? []) parent.set(c, node.id);
    const f = node.callFrame;
    nodeKey.set(node.id, `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|packages|bench)\//, '$1/')}`);
  }
  const inclusive = new Map<string, number>();
  for (let i = 0; i < samples.length; i += 1) {
    const dt = deltas[i + 1] ?? 0;
    const seen = new Set<string>();
    for (let id: number | undefined = samples[i]; id !== undefined; id = parent.get(id)) seen.add(nodeKey.get(id)!);
    for (const k of seen) inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
  }
  inclusive.delete('(root) ');
  const per = options.perMessageDivisor;
  const row = (name: string, us: number): string => `| ${name.replace(/\|/g, '\\|')} | ${((100 * us) / total).toFixed(1)} % |${per ? ` ${(us / per).toFixed(2)} |` : ''}`;
  const head = (what: string): string[] => [`| ${what} | share |${per ? ' µs/msg |' : ''}`, `|---|---|${per ? '---|' : ''}`];
  const sorted = (m: Map<string, number>): Array<[string, number]> => [...m].sort((a, b) => b[1] - a[1]).slice(0, options.top);
  return [
    '',
    `Profile: ${(total / 1e6).toFixed(2)} s sampled${per ? `, ${(total / per).toFixed(2)} µs per acknowledged message` : ''}`,
    '',
    ...head('area (self time)'),
    ...sorted(byArea).map(([k, v]) => row(k, v)),
    '',
    ...head('function (self time)'),
    ...sorted(byFn).map(([k, v]) => row(k, v)),
    '',
    ...head('function (inclusive time)'),
    ...sorted(inclusive).map(([k, v]) => row(k, v)),
    '',
  ].join('\n');
}
