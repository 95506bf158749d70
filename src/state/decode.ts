/**
 * The v2 decoder: fills the fields format version 2 leaves out back into the objects
 * JSON.parse made, checking the type of every field it touches (a version 1 file must
 * have them all). The full shape and the cross-references are checked after (shape.ts).
 */
import { newActivity } from '../base/machine.js';
import type { Machine, Device } from '../base/machine.js';
import { isObj, fail, nodeBase, FIRST_PARENT, READ } from './codec-util.js';
import type { LazyDevices } from './lazy-device.js';

const MACHINE_ARRAYS = ['devices', 'drivers', 'groups', 'log', 'modules', 'owners'] as const;

/**
 * `lazy`, when given, holds the machine's devices already (lazy-device.ts: a sealed file
 * read line by line) and their Cells; the document's own `devices` is then an empty
 * placeholder.
 */
export function decodeMachine(x: unknown, v1: boolean, irqController: string | null, lazy?: LazyDevices): Machine {
  if (!isObj(x)) fail('machine', 'an object', x);
  for (const k of MACHINE_ARRAYS) if (!Array.isArray(x[k])) fail(`machine.${k}`, 'an array', x[k]);
  if (typeof x['clockUs'] !== 'number') fail('machine.clockUs', 'a number', x['clockUs']);
  if (!isObj(x['buses'])) fail('machine.buses', 'an object', x['buses']);
  if (lazy) {
    x['devices'] = lazy.devices;
    Object.defineProperty(x, READ, { value: lazy, enumerable: false });
  }
  else {
    const c: Carry = { parentDir: FIRST_PARENT, irqController, v1 };
    const all = x['devices'] as unknown[];
    for (let i = 0; i < all.length; i++) decodeDevice(all[i], i, c);
  }
  // (a lazy machine's group members are read from the objects behind its devices: no trap per device)
  decodeGroups(x['groups'] as unknown[], (lazy ? lazy.cells.map((c) => c.t) : x['devices']) as Device[], v1);
  const log = x['log'] as unknown[];
  for (let i = 0; i < log.length; i++) {
    const l = log[i];
    if (!isObj(l) || typeof l['t'] !== 'number' || typeof l['level'] !== 'number' || typeof l['text'] !== 'string') fail(at('log', i), 'a log line {t, level, text}', l);
  }
  for (const k of ['drivers', 'owners'] as const) {
    const a = x[k] as unknown[];
    for (let i = 0; i < a.length; i++) {
      const e = a[i];
      if (!isObj(e)) fail(at(k, i), 'an object', e);
      if (typeof e['name'] !== 'string') fail(at(k, i, 'name'), 'a string', e['name']);
    }
  }
  return x as unknown as Machine;
}

export interface Carry {
  /** the previous device's */
  parentDir: unknown;
  /** the document's default IRQ controller */
  irqController: string | null;
  /** a version 1 file: every field is there */
  v1: boolean;
}

const at = (what: string, i: number, k?: string): string => `machine.${what}[${i}]${k === undefined ? '' : '.' + k}`;

/** A field is left out, which version 1 files never do. */
function leftOut(what: string, i: number, path: string): never {
  fail(at(what, i, path), 'a value (version 1 files store every field)', undefined);
}

const isString = (v: unknown): boolean => typeof v === 'string';
const isStringOrNull = (v: unknown): boolean => v === null || typeof v === 'string';
const isNumberOrNull = (v: unknown): boolean => v === null || typeof v === 'number';
const isObjectOrNull = (v: unknown): boolean => v === null || isObj(v);
const isBus = (v: unknown): boolean => v === 'platform' || v === 'amba';
const isActivity = (v: unknown): boolean => isObj(v) && typeof v['running'] === 'boolean' && Array.isArray(v['irqsRaised']) && Array.isArray(v['masked']);

/**
 * Whether field `k` of entry i of `what` is left out (then the caller stores its default,
 * under a constant name: a store through a variable key is many times slower); an error
 * in a version 1 file. A field that is there must pass `ok`.
 */
function absent(v: unknown, ok: (v: unknown) => boolean, expected: string, v1: boolean, what: string, i: number, k: string): boolean {
  if (v === undefined) {
    if (v1) leftOut(what, i, k);
    return true;
  }
  if (!ok(v)) fail(at(what, i, k), expected, v);
  return false;
}

/** Fill in the fields of a device left out, checking the type of every field it has. */
export function decodeDevice(x: unknown, i: number, c: Carry): void {
  const v1 = c.v1;
  if (!isObj(x)) fail(at('devices', i), 'an object', x);
  if (typeof x['name'] !== 'string') fail(at('devices', i, 'name'), 'a string', x['name']);
  if (absent(x['bus'], isBus, '"platform" or "amba"', v1, 'devices', i, 'bus')) x['bus'] = 'platform';
  const of = x['of'];
  if (!isObj(of)) fail(at('devices', i, 'of'), 'an object', of);
  const fullName = of['fullName'];
  if (typeof fullName !== 'string') fail(at('devices', i, 'of.fullName'), 'a string', fullName);
  if (absent(of['name'], isString, 'a string', v1, 'devices', i, 'of.name')) of['name'] = nodeBase(fullName);
  if (absent(of['type'], isStringOrNull, 'a string or null', v1, 'devices', i, 'of.type')) of['type'] = null;
  if (!Array.isArray(of['compatible'])) fail(at('devices', i, 'of.compatible'), 'an array of strings', of['compatible']);
  if (absent(of['aliases'], Array.isArray, 'an array of strings', v1, 'devices', i, 'of.aliases')) of['aliases'] = [];
  if (absent(x['parentDir'], isString, 'a string', v1, 'devices', i, 'parentDir')) x['parentDir'] = c.parentDir;
  else c.parentDir = x['parentDir'];
  if (absent(x['regions'], Array.isArray, 'an array', v1, 'devices', i, 'regions')) x['regions'] = [];
  let nirqs = 0;
  if (absent(x['irqs'], Array.isArray, 'an array', v1, 'devices', i, 'irqs')) x['irqs'] = [];
  else {
    const irqs = x['irqs'] as unknown[];
    nirqs = irqs.length;
    for (let j = 0; j < nirqs; j++) {
      const q = irqs[j];
      if (!isObj(q) || typeof q['hwirq'] !== 'number' || typeof q['trigger'] !== 'number') fail(`${at('devices', i, 'irqs')}[${j}]`, 'an IRQ {hwirq, trigger, controller}', q);
      const ctl = q['controller'];
      if (ctl === undefined) {
        if (c.irqController === null) fail(`${at('devices', i, 'irqs')}[${j}].controller`, 'a string (the document names no default irqController)', undefined);
        q['controller'] = c.irqController;
      } else if (typeof ctl !== 'string') fail(`${at('devices', i, 'irqs')}[${j}].controller`, 'a string', ctl);
    }
  }
  if (absent(x['iommuGroup'], isNumberOrNull, 'a number or null', v1, 'devices', i, 'iommuGroup')) x['iommuGroup'] = null;
  if (absent(x['resets'], Array.isArray, 'an array', v1, 'devices', i, 'resets')) x['resets'] = [];
  if (absent(x['driver'], isStringOrNull, 'a string or null', v1, 'devices', i, 'driver')) x['driver'] = null;
  if (absent(x['driverOverride'], isStringOrNull, 'a string or null', v1, 'devices', i, 'driverOverride')) x['driverOverride'] = null;
  if (absent(x['vfio'], isObjectOrNull, 'an object or null', v1, 'devices', i, 'vfio')) x['vfio'] = null;
  if (absent(x['activity'], isActivity, 'an activity {running, irqsRaised, masked, …}', v1, 'devices', i, 'activity')) x['activity'] = newActivity(nirqs);
  if (x['periphid'] !== undefined && typeof x['periphid'] !== 'number') fail(at('devices', i, 'periphid'), 'a number', x['periphid']);
  if (x['acpiRst'] !== undefined && typeof x['acpiRst'] !== 'boolean') fail(at('devices', i, 'acpiRst'), 'true or false', x['acpiRst']);
}

function strings(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (let j = 0; j < v.length; j++) if (typeof v[j] !== 'string') return false;
  return true;
}

/** Fill in the fields of each group left out (a group written 0 has them all left out). */
function decodeGroups(groups: unknown[], devices: readonly Device[], v1: boolean): void {
  // members as the devices say, by group id (dense for ids that are group indexes)
  const ng = groups.length;
  const dense: (string[] | undefined)[] = new Array(ng);
  const sparse = new Map<number, string[]>();
  if (!v1) {
    for (let i = 0; i < devices.length; i++) {
      const d = devices[i]!;
      const id = d.iommuGroup;
      if (typeof id !== 'number') continue;
      const isDense = Number.isInteger(id) && id >= 0 && id < ng;
      const l = isDense ? dense[id] : sparse.get(id);
      if (l) l.push(d.name);
      else if (isDense) dense[id] = [d.name];
      else sparse.set(id, [d.name]);
    }
  }
  // a list is handed out once: two groups with one id must not share an array
  const handedOut = new Uint8Array(ng);
  const handedOutSparse = new Set<number>();
  let iommu: unknown = null;
  for (let i = 0; i < ng; i++) {
    let g = groups[i];
    if (g === 0 && !v1) groups[i] = g = { id: i, devices: undefined, owner: null, type: 'DMA', iommu };
    if (!isObj(g)) fail(at('groups', i), v1 ? 'an object' : 'an object (or 0 for a group with every field left out)', g);
    if (absent(g['id'], (v) => typeof v === 'number', 'a number', v1, 'groups', i, 'id')) g['id'] = i;
    if (absent(g['devices'], strings, 'an array of strings', v1, 'groups', i, 'devices')) {
      const gid = g['id'] as number;
      const isDense = Number.isInteger(gid) && gid >= 0 && gid < ng;
      const l = isDense ? dense[gid] : sparse.get(gid);
      const taken = isDense ? handedOut[gid] === 1 : handedOutSparse.has(gid);
      if (isDense) handedOut[gid] = 1;
      else handedOutSparse.add(gid);
      g['devices'] = !l ? [] : taken ? l.slice() : l;
    }
    if (absent(g['owner'], isStringOrNull, 'a string or null', v1, 'groups', i, 'owner')) g['owner'] = null;
    if (absent(g['type'], isString, 'a string', v1, 'groups', i, 'type')) g['type'] = 'DMA';
    if (absent(g['iommu'], isStringOrNull, 'a string or null', v1, 'groups', i, 'iommu')) g['iommu'] = iommu;
    else iommu = g['iommu'];
  }
}
