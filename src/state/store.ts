/**
 * The state file: one JSON document standing in for the kernel's memory.
 * Mutations run under an exclusive lock file and are written to a temporary file,
 * fsynced and renamed into place, so readers see the old or the new machine, never
 * a torn one. A file we cannot trust is never overwritten.
 *
 * Format version 2 stores the same Machine as version 1 with the fields that hold their
 * default values left out (see "the v2 codec" below); version 1 files are read by the
 * same decoder with every field required, and the next mutating command writes them back
 * as version 2.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StateError } from '../base/errors.js';
import { newActivity } from '../base/machine.js';
import type { Machine, Device, Activity, IommuGroup } from '../base/machine.js';

export const STATE_FORMAT = 'vfioctl-state';
export const STATE_VERSION = 2;
/** the oldest format version this vfioctl reads (and migrates) */
const STATE_OLDEST_VERSION = 1;

export interface StateEnv {
  env: Record<string, string | undefined>;
  homedir: string;
}

/** --state, else $VFIOCTL_STATE, else $XDG_STATE_HOME/vfioctl/state.json, else ~/.local/state/vfioctl/state.json */
export function statePath(flag: string | undefined, e: StateEnv): string {
  if (flag) return path.resolve(flag);
  if (e.env['VFIOCTL_STATE']) return path.resolve(e.env['VFIOCTL_STATE']);
  const xdg = e.env['XDG_STATE_HOME'];
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'vfioctl', 'state.json');
  return path.join(e.homedir, '.local', 'state', 'vfioctl', 'state.json');
}

const RECOVER = (p: string): string =>
  `the file was left untouched; to start a new machine run: vfioctl --state ${p} load --force default (or another tree), which first moves this file aside to ${p}.corrupt-<time>, so nothing is lost`;

// ---- reading ----

/** Read and check the state file; null when there is none yet. */
export function readState(p: string): Machine | null {
  let data: Buffer;
  try {
    data = fs.readFileSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'EISDIR') throw new StateError(p, 'state file is a directory', `the directory was left untouched; move it away, point --state at a file, or run: vfioctl --state ${p} load --force default, which moves it aside to ${p}.corrupt-<time>`);
    if (code === 'EACCES' || code === 'EPERM') throw new StateError(p, 'state file is not readable (permission denied)', `the file was left untouched; fix its permissions (chmod u+rw ${p}), use another --state, or run: vfioctl --state ${p} load --force default, which moves it aside to ${p}.corrupt-<time>`);
    throw new StateError(p, `cannot read state file: ${(e as Error).message}`, RECOVER(p));
  }
  return parseState(p, data);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parse a state document (bytes as read, or text), migrating older versions. Throws StateError. */
export function parseState(p: string, data: string | Uint8Array): Machine {
  if (data.length === 0) throw new StateError(p, 'state file is empty (a write was cut short, or it was truncated)', RECOVER(p));
  let text: string;
  if (typeof data === 'string') text = data;
  else {
    try {
      text = utf8.decode(data);
    } catch {
      throw new StateError(p, 'state file is not text: it contains bytes that are not valid UTF-8 (binary data, or a damaged file)', RECOVER(p));
    }
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new StateError(p, notJson(text, (e as Error).message), RECOVER(p));
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new StateError(p, `state file is not a vfioctl state (the JSON document is ${kind(doc)}, not an object)`, RECOVER(p));
  const o = doc as Record<string, unknown>;
  if (o['format'] !== STATE_FORMAT) throw new StateError(p, `state file is not a vfioctl state (format is ${o['format'] === undefined ? 'missing' : show(o['format'])}, expected "${STATE_FORMAT}")`, RECOVER(p));
  const v = o['version'];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < STATE_OLDEST_VERSION) {
    throw new StateError(p, `state file has no valid format version (${v === undefined ? 'missing' : show(v)}; versions are whole numbers from ${STATE_OLDEST_VERSION})`, RECOVER(p));
  }
  if (v > STATE_VERSION) {
    throw new StateError(
      p,
      `state file was written by a newer vfioctl (format version ${v}; this one reads up to ${STATE_VERSION})`,
      `the file was left untouched; upgrade vfioctl, or keep that file and use another --state (vfioctl --state ${p} load --force default would move it aside to ${p}.corrupt-<time> and start over)`,
    );
  }
  if (o['machine'] === undefined) throw new StateError(p, 'state file has the wrong shape: it has no "machine"', RECOVER(p));
  const irqController = o['irqController'];
  if (irqController !== undefined && (v === 1 || typeof irqController !== 'string')) throw new StateError(p, `state file has the wrong shape: irqController is ${kind(irqController)}${v === 1 ? ' in a version 1 file' : ', expected a string'}`, RECOVER(p));
  try {
    return decodeMachine(o['machine'], v === 1, irqController ?? null);
  } catch (e) {
    if (e instanceof ShapeError) throw new StateError(p, `state file has the wrong shape: ${e.message}`, RECOVER(p));
    throw e;
  }
}

/** What is wrong with text that JSON.parse refused. */
function notJson(text: string, why: string): string {
  if (text.charCodeAt(0) === 0xfeff) return 'state file starts with a byte-order mark (U+FEFF, as some editors save UTF-8), which is not JSON';
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    if (/^\0+$/.test(text)) return `state file holds only NUL bytes (${text.length}): its data never reached the disk (typical after a crash on a filesystem that does not journal data)`;
    return `state file contains NUL bytes (the first at character ${nul}): part of it is zeroed, typical after a crash on a filesystem that does not journal data`;
  }
  if (/end of JSON input/i.test(why)) return `state file is cut short: the JSON ends before the document does (${why}); it was truncated or a write was interrupted`;
  return `state file is not valid JSON (${why}); it may be truncated or corrupt`;
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v === 'number' ? 'a number' : typeof v === 'string' ? 'a string' : `a ${typeof v}`} (${show(v)})`;
}

function show(v: unknown): string {
  const s = typeof v === 'number' ? String(v) : JSON.stringify(v) ?? String(v);
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}

// ---- the v2 codec ----
/*
 * Format version 2 is the Machine object with these fields left out (decodeMachine puts
 * them back):
 *  - device: `bus` "platform", `iommuGroup`/`driver`/`driverOverride`/`vfio` null,
 *    `regions`/`irqs`/`resets` [], an idle `activity` (exactly what newActivity makes),
 *    and `parentDir` when it is the previous device's (before the first device:
 *    /sys/devices/platform);
 *  - of_node: `type` null, `aliases` [], and `name` when it is the last component of
 *    `fullName` without its unit address;
 *  - IRQ: `controller` when it is the document's `irqController` (next to `format` and
 *    `version`: the first IRQ's controller, which nearly every IRQ has);
 *  - IOMMU group: `id` when it is the group's index, `devices` when they are the devices
 *    whose iommuGroup is the id (in device order), `owner` null, `type` "DMA", and `iommu`
 *    when it is the previous group's (before the first: null); a group with every field
 *    left out is written 0.
 * Every other field, including ones added to the Machine type later, is written as it is.
 *
 * Speed matters more than elegance here (a 10,000-device machine, once per command, in
 * mostly unoptimised code): the encoder does not copy devices but sets their default
 * fields to undefined while JSON.stringify runs (which leaves such fields out) and puts
 * every one back afterwards; the decoder fills fields into the objects JSON.parse made.
 */

/** A decoded document does not have the shape of a Machine; the message says where. */
class ShapeError extends Error {}

function fail(where: string, what: string, v: unknown): never {
  throw new ShapeError(v === undefined ? `${where} is missing (${what})` : `${where} is ${kind(v)}, expected ${what}`);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function countKeys(o: object): number {
  let n = 0;
  for (const _k in o) n++;
  return n;
}

/** of_node name: the last path component without its unit address */
function nodeBase(fullName: string): string {
  const last = fullName.slice(fullName.lastIndexOf('/') + 1);
  const at = last.indexOf('@');
  return at < 0 ? last : last.slice(0, at);
}

const GROUP_KEYS = new Set(['id', 'devices', 'owner', 'type', 'iommu']);
const MACHINE_ARRAYS = ['devices', 'drivers', 'groups', 'log', 'modules', 'owners'] as const;
/** the fields of Activity this codec knows: with one more (added later) it is never "idle" */
const ACTIVITY_FIELDS = Object.keys(newActivity(0)).length;
const FIRST_PARENT = '/sys/devices/platform';

/** exactly what newActivity(nirqs) makes */
function isIdle(a: Activity, nirqs: number): boolean {
  if (typeof a !== 'object' || a === null) return false;
  if (a.running !== false || a.dmaWrites !== 0 || a.dmaFaults !== 0 || a.iova !== null || a.programmedBy !== null) return false;
  const r = a.irqsRaised;
  const k = a.masked;
  if (!Array.isArray(r) || !Array.isArray(k) || r.length !== nirqs || k.length !== nirqs) return false;
  for (let i = 0; i < nirqs; i++) if (r[i] !== 0 || k[i] !== false) return false;
  return countKeys(a) === ACTIVITY_FIELDS;
}

const isEmptyArray = (v: unknown): boolean => Array.isArray(v) && v.length === 0;

export function serializeState(m: Machine): string {
  const irqController = firstIrqController(m.devices);
  const hidden = hideDefaults(m.devices, irqController);
  try {
    const out: Obj = {};
    const x = m as unknown as Obj;
    for (const k in x) out[k] = k === 'groups' ? encodeGroups(m.groups, m.devices) : x[k];
    const doc: Obj = { format: STATE_FORMAT, version: STATE_VERSION };
    if (irqController !== null) doc['irqController'] = irqController;
    doc['machine'] = out;
    return JSON.stringify(doc) + '\n';
  } finally {
    restoreDefaults(m.devices, hidden, irqController);
  }
}

/** The controller of the first IRQ: the one an IRQ that names none has (most have it). */
function firstIrqController(devices: readonly Device[]): string | null {
  for (const d of devices) {
    if (!Array.isArray(d.irqs)) continue;
    for (const q of d.irqs) if (isObj(q) && typeof q.controller === 'string') return q.controller;
  }
  return null;
}

// which fields of a device hideDefaults set to undefined (bits of Hidden.mask)
const H_BUS = 1, H_OF_NAME = 2, H_OF_TYPE = 4, H_OF_ALIASES = 8, H_PARENT = 16, H_REGIONS = 32, H_IRQS = 64;
const H_GROUP = 128, H_RESETS = 256, H_DRIVER = 512, H_OVERRIDE = 1024, H_VFIO = 2048, H_ACTIVITY = 4096;

/**
 * What hideDefaults took away, to put back exactly (the same objects): a mask per device;
 * the values that are not constants, in device order (of.name, of.aliases, parentDir,
 * regions, irqs, resets, activity); the IRQ objects whose controller was taken away.
 */
interface Hidden {
  mask: Int32Array;
  saved: unknown[];
  irqs: Obj[];
}

/**
 * Set the fields of each device that decodeDevice restores to undefined, so that
 * JSON.stringify leaves them out. Whether a field is left out depends only on its own
 * object (and, for parentDir, on the previous device), so an object that two devices
 * share is written the same way at both places. Nothing is allocated per device (an
 * allocation here makes the garbage collector copy the machine just read), and property
 * names are constants (a store through a variable key is many times slower in V8).
 */
function hideDefaults(devices: readonly Device[], irqController: string | null): Hidden {
  const n = devices.length;
  const h: Hidden = { mask: new Int32Array(n), saved: new Array(4 * n), irqs: [] };
  const saved = h.saved;
  let ns = 0;
  let parentDir: unknown = FIRST_PARENT;
  for (let i = 0; i < n; i++) {
    const d = devices[i] as unknown as Obj;
    let mask = 0;
    if (d['bus'] === 'platform') (mask |= H_BUS), (d['bus'] = undefined);
    const of = d['of'];
    if (isObj(of)) {
      const fullName = of['fullName'];
      if (typeof fullName === 'string' && of['name'] === nodeBase(fullName)) (mask |= H_OF_NAME), (saved[ns++] = of['name']), (of['name'] = undefined);
      if (of['type'] === null) (mask |= H_OF_TYPE), (of['type'] = undefined);
      if (isEmptyArray(of['aliases'])) (mask |= H_OF_ALIASES), (saved[ns++] = of['aliases']), (of['aliases'] = undefined);
    }
    if (d['parentDir'] === parentDir) (mask |= H_PARENT), (saved[ns++] = d['parentDir']), (d['parentDir'] = undefined);
    else parentDir = d['parentDir'];
    if (isEmptyArray(d['regions'])) (mask |= H_REGIONS), (saved[ns++] = d['regions']), (d['regions'] = undefined);
    const irqs = d['irqs'];
    let nirqs = -1;
    if (isEmptyArray(irqs)) (mask |= H_IRQS), (saved[ns++] = irqs), (d['irqs'] = undefined), (nirqs = 0);
    else if (Array.isArray(irqs)) {
      nirqs = irqs.length;
      for (let j = 0; j < nirqs; j++) {
        const q = irqs[j] as unknown;
        if (isObj(q) && q['controller'] === irqController && irqController !== null) h.irqs.push(q), (q['controller'] = undefined);
      }
    }
    if (d['iommuGroup'] === null) (mask |= H_GROUP), (d['iommuGroup'] = undefined);
    if (isEmptyArray(d['resets'])) (mask |= H_RESETS), (saved[ns++] = d['resets']), (d['resets'] = undefined);
    if (d['driver'] === null) (mask |= H_DRIVER), (d['driver'] = undefined);
    if (d['driverOverride'] === null) (mask |= H_OVERRIDE), (d['driverOverride'] = undefined);
    if (d['vfio'] === null) (mask |= H_VFIO), (d['vfio'] = undefined);
    if (nirqs >= 0 && isIdle(d['activity'] as Activity, nirqs)) (mask |= H_ACTIVITY), (saved[ns++] = d['activity']), (d['activity'] = undefined);
    h.mask[i] = mask;
  }
  saved.length = ns;
  return h;
}

function restoreDefaults(devices: readonly Device[], h: Hidden, irqController: string | null): void {
  const saved = h.saved;
  let ns = 0;
  for (let i = 0; i < h.mask.length; i++) {
    const mask = h.mask[i]!;
    if (mask === 0) continue;
    const d = devices[i] as unknown as Obj;
    if (mask & H_BUS) d['bus'] = 'platform';
    if (mask & (H_OF_NAME | H_OF_TYPE | H_OF_ALIASES)) {
      const of = d['of'] as Obj;
      if (mask & H_OF_NAME) of['name'] = saved[ns++];
      if (mask & H_OF_TYPE) of['type'] = null;
      if (mask & H_OF_ALIASES) of['aliases'] = saved[ns++];
    }
    if (mask & H_PARENT) d['parentDir'] = saved[ns++];
    if (mask & H_REGIONS) d['regions'] = saved[ns++];
    if (mask & H_IRQS) d['irqs'] = saved[ns++];
    if (mask & H_GROUP) d['iommuGroup'] = null;
    if (mask & H_RESETS) d['resets'] = saved[ns++];
    if (mask & H_DRIVER) d['driver'] = null;
    if (mask & H_OVERRIDE) d['driverOverride'] = null;
    if (mask & H_VFIO) d['vfio'] = null;
    if (mask & H_ACTIVITY) d['activity'] = saved[ns++];
  }
  for (let k = 0; k < h.irqs.length; k++) h.irqs[k]!['controller'] = irqController;
}

/**
 * The groups to write: 0 for a group whose fields are all defaults, else the fields that
 * are not. Whether a group's members are the ones its devices name is counted without
 * building the lists.
 */
function encodeGroups(groups: readonly IommuGroup[], devices: readonly Device[]): unknown[] {
  const ng = groups.length;
  const seen = new Int32Array(ng);
  const differs = new Uint8Array(ng);
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i]!;
    const id = d.iommuGroup;
    if (typeof id !== 'number') continue;
    if (!(Number.isInteger(id) && id >= 0 && id < ng)) continue; // no group at that index: such a group writes its list
    const g = groups[id];
    const k = seen[id]!++;
    if (!isObj(g) || !Array.isArray(g.devices) || g.devices[k] !== d.name) differs[id] = 1;
  }
  let iommu: unknown = null;
  const out: unknown[] = new Array(ng);
  for (let i = 0; i < ng; i++) {
    const g = groups[i]!;
    if (!isObj(g)) {
      out[i] = g;
      continue;
    }
    // members can be left out when the group sits at the index of its id and the devices
    // naming that id are its members, in order
    const derived = g.id === i && differs[i] === 0 && Array.isArray(g.devices) && seen[i] === g.devices.length;
    const plain = derived && g.owner === null && g.type === 'DMA' && g.iommu === iommu && countKeys(g) === GROUP_KEYS.size;
    if (plain) out[i] = 0;
    else {
      const o: Obj = {};
      if (g.id !== i) o['id'] = g.id;
      if (!derived) o['devices'] = g.devices;
      if (g.owner !== null) o['owner'] = g.owner;
      if (g.type !== 'DMA') o['type'] = g.type;
      if (g.iommu !== iommu) o['iommu'] = g.iommu;
      const x = g as unknown as Obj;
      for (const k in x) if (!GROUP_KEYS.has(k)) o[k] = x[k];
      out[i] = o;
    }
    iommu = g.iommu;
  }
  return out;
}

/** compact JSON value (or a version 1 machine, with v1 set) → Machine, checking its shape */
function decodeMachine(x: unknown, v1: boolean, irqController: string | null): Machine {
  if (!isObj(x)) fail('machine', 'an object', x);
  for (const k of MACHINE_ARRAYS) if (!Array.isArray(x[k])) fail(`machine.${k}`, 'an array', x[k]);
  if (typeof x['clockUs'] !== 'number') fail('machine.clockUs', 'a number', x['clockUs']);
  if (!isObj(x['buses'])) fail('machine.buses', 'an object', x['buses']);
  const devices = x['devices'] as unknown[];
  const c: Carry = { parentDir: FIRST_PARENT, irqController, v1 };
  for (let i = 0; i < devices.length; i++) decodeDevice(devices[i], i, c);
  decodeGroups(x['groups'] as unknown[], devices as Device[], v1);
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

interface Carry {
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
function decodeDevice(x: unknown, i: number, c: Carry): void {
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

// ---- writing ----

/**
 * Write atomically: temp file `<state>.tmp.<pid>` in the same directory, fsync, rename,
 * fsync the directory. Then remove what killed vfioctl processes left next to the state
 * (their temp files and half-taken lock files); the caller holds the lock.
 */
export function writeState(p: string, m: Machine): void {
  try {
    writeFileAtomic(p, serializeState(m));
  } catch (e) {
    throw new StateError(p, `cannot write the state file: ${(e as Error).message}`, `nothing was changed: the previous state is still in place; check the free space and permissions of ${path.dirname(p)}`);
  }
  removeLeftovers(p);
}

/**
 * Replace `file` atomically: a temporary `<file>.tmp.<pid>` in the same directory, written
 * in full and fsynced, renamed over it, then the directory fsynced. Readers see the old
 * file or the new one. On failure the temporary file is removed and the error thrown.
 */
export function writeFileAtomic(file: string, text: string): void {
  const dir = path.dirname(file);
  const tmp = `${file}.tmp.${process.pid}`;
  const data = Buffer.from(text, 'utf8');
  try {
    fs.mkdirSync(dir, { recursive: true });
    const fd = fs.openSync(tmp, 'w', 0o644);
    try {
      // write(2) may write less than asked (a full disk, a signal): go on until all is written
      for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off, data.length - off);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // not a file of ours after all (a directory in the way): leave it
    }
    throw e;
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic
  }
}

/**
 * Remove `<state>.tmp.<pid>`, `<state>.lock.<pid>` and `<state>.lock.break.<pid>` files whose
 * process no longer runs (a vfioctl killed while writing or taking the lock). Files of live
 * processes are left alone.
 */
function removeLeftovers(p: string): void {
  const dir = path.dirname(p);
  const base = path.basename(p);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const f of names) {
    if (!f.startsWith(base)) continue;
    const mt = /^\.(?:tmp|lock|lock\.break)\.(\d+)$/.exec(f.slice(base.length));
    if (!mt) continue;
    const pid = Number(mt[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    try {
      fs.unlinkSync(path.join(dir, f));
    } catch {
      // gone already, or not ours to remove
    }
  }
}

/**
 * Move an unusable state file (or whatever is in its place) aside to
 * `<state>.corrupt-<UTC time>` (suffixed -1, -2… if taken), keeping it byte for byte.
 * Returns the new path, or null when there is nothing at `p`. Call it holding the lock.
 */
export function setAside(p: string, now: Date = new Date()): string | null {
  const exists = (f: string): boolean => {
    try {
      fs.lstatSync(f);
      return true;
    } catch {
      return false;
    }
  };
  if (!exists(p)) return null;
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  let dest = `${p}.corrupt-${stamp}`;
  for (let n = 1; exists(dest); n++) dest = `${p}.corrupt-${stamp}-${n}`;
  fs.renameSync(p, dest);
  return dest;
}

// ---- locking ----

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Whether a process runs: kill(pid, 0), and on Linux not a zombie (killed, not yet reaped). */
function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    if (state === 'Z' || state === 'X') return false;
  } catch {
    // no /proc: trust kill(2)
  }
  return true;
}

function readLockPid(lock: string): number | null {
  try {
    const t = fs.readFileSync(lock, 'utf8');
    const pid = Number.parseInt(t, 10);
    return Number.isFinite(pid) ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Create `file` holding our pid, atomically: the pid is written to `<file>.<pid>` first and
 * hard-linked into place, so a lock file never exists without its pid (even when the
 * process is killed half-way). Falls back to O_EXCL where hard links are not supported.
 * Returns false when the file exists.
 */
function createPidFile(file: string): boolean {
  const tmp = `${file}.${process.pid}`;
  fs.writeFileSync(tmp, `${process.pid}\n`, { mode: 0o644 });
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EMLINK') throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    fs.writeSync(fd, `${process.pid}\n`);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

export interface LockHandle {
  release(): void;
  /** stale locks of dead processes that were removed on the way */
  recovered: number[];
}

/** A lock file without a readable pid older than this is garbage (the O_EXCL fallback's window). */
const GARBAGE_LOCK_MS = 2000;

/**
 * Take `<state>.lock` (holding our pid). A lock whose pid is dead is removed (under a
 * short-lived `.break` lock so two recoverers cannot remove a fresh lock).
 * Waits up to `timeoutMs`, then fails naming the holder.
 */
export function acquireLock(p: string, timeoutMs: number): LockHandle {
  const lock = `${p}.lock`;
  try {
    fs.mkdirSync(path.dirname(p), { recursive: true });
  } catch (e) {
    throw new StateError(p, `cannot create the directory of the state file: ${(e as Error).message}`, 'use another --state, or check the permissions of its directory');
  }
  const deadline = Date.now() + timeoutMs;
  const recovered: number[] = [];
  let delay = 2;
  for (;;) {
    let created: boolean;
    try {
      created = createPidFile(lock);
    } catch (e) {
      throw new StateError(p, `cannot create lock file ${lock}: ${(e as Error).message}`, 'check that the directory is writable');
    }
    if (created) {
      return {
        recovered,
        release: () => {
          if (readLockPid(lock) === process.pid) fs.rmSync(lock, { force: true });
        },
      };
    }
    const holder = readLockPid(lock);
    /** the live process holding `<lock>.break` while the holder is dead (another recoverer, or a stuck one) */
    let breaker: number | null | undefined;
    if (holder !== null && !pidAlive(holder)) {
      const r = breakStaleLock(p, lock, holder);
      if (r === BROKEN) recovered.push(holder);
      if (r === BROKEN || r === RETRY) continue;
      breaker = r;
    } else if (holder === null) {
      const age = ageMs(lock);
      if (age === null) continue; // released meanwhile
      if (age > GARBAGE_LOCK_MS) {
        const r = breakStaleLock(p, lock, null);
        if (r === BROKEN || r === RETRY) continue;
        breaker = r;
      }
    }
    if (Date.now() >= deadline) {
      const waited = `${(timeoutMs / 1000).toFixed(1)} s`;
      if (breaker !== undefined) {
        throw new StateError(
          p,
          `state file is locked by ${holder === null ? 'a lock file that names no process' : `pid ${holder}, which no longer runs`}, and after ${waited} the stale lock still cannot be removed: ${lock}.break is held by pid ${breaker ?? '?'}`,
          `nothing was changed; if pid ${breaker ?? '?'} is not a vfioctl that is recovering the lock, remove ${lock}.break and ${lock}`,
        );
      }
      throw new StateError(
        p,
        `state file is locked by pid ${holder ?? '?'} (lock ${lock}), which still holds it after ${waited}`,
        `nothing was changed; wait for that vfioctl to finish (or wait longer: VFIOCTL_LOCK_TIMEOUT=<seconds>); if pid ${holder ?? '?'} is not a vfioctl, remove ${lock}`,
      );
    }
    sleepMs(delay + Math.floor(Math.random() * delay));
    delay = Math.min(delay * 2, 50);
  }
}

/** milliseconds since `f` was last modified; null when it does not exist */
function ageMs(f: string): number | null {
  try {
    return Date.now() - fs.statSync(f).mtimeMs;
  } catch {
    return null;
  }
}

const BROKEN = 'broken';
const RETRY = 'retry';

/**
 * Remove the lock of a dead holder (deadPid), or an old lock file naming nobody (null),
 * under `<lock>.break` so that two recoverers cannot remove a lock taken meanwhile.
 * BROKEN: removed; RETRY: something changed, look again now; otherwise the pid (or null
 * when unreadable) of the live process holding `<lock>.break`: wait for it.
 */
function breakStaleLock(p: string, lock: string, deadPid: number | null): typeof BROKEN | typeof RETRY | number | null {
  const breaker = `${lock}.break`;
  try {
    if (!createPidFile(breaker)) {
      const bp = readLockPid(breaker);
      if (bp !== null ? pidAlive(bp) : (ageMs(breaker) ?? 0) <= GARBAGE_LOCK_MS) return bp;
      fs.rmSync(breaker, { force: true }); // its process died while recovering
      return RETRY;
    }
    try {
      // re-check under the breaker: still the dead holder's lock (or still old garbage)
      const cur = readLockPid(lock);
      if (deadPid !== null ? cur === deadPid : cur === null && (ageMs(lock) ?? 0) > GARBAGE_LOCK_MS) {
        fs.rmSync(lock, { force: true });
        return BROKEN;
      }
      return RETRY;
    } finally {
      fs.rmSync(breaker, { force: true });
    }
  } catch (e) {
    throw new StateError(p, `cannot remove the stale lock ${lock}: ${(e as Error).message}`, `check that ${path.dirname(lock)} is writable`);
  }
}
