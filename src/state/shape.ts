/**
 * The whole shape of a decoded Machine, and its cross-references, checked before any
 * command sees it: a state file that passes here is one vfioctl could have written.
 * The first fault is reported with its JSON path (`machine.devices[3].driver`).
 *
 * One table per object type (FIELDS below). To add a field to Machine, Device, … add one
 * line to its table: `name: check` (`opt(check)` when older files lack it). Fields that no
 * table names are kept as they are and not checked. Cross-references (a device's driver
 * is registered, group members exist, …) are in checkRefs.
 */
import type { Machine, Device } from '../base/machine.js';
import { ShapeError, isObj, kind } from './codec-util.js';

/** checks one value; `at` is its JSON path */
type Check = (v: unknown, at: string) => void;

function bad(at: string, what: string, v: unknown): never {
  throw new ShapeError(v === undefined ? `${at} is missing (${what})` : `${at} is ${kind(v)}, expected ${what}`);
}

/** C0 controls, DEL and C1 controls: never in any string vfioctl writes (they would reach terminals) */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Most characters a string in the state may have (a name, a log line, a compatible). */
export const STATE_STRING_MAX = 4096;

const str: Check = (v, at) => {
  if (typeof v !== 'string') bad(at, 'a string', v);
  if (v.length > STATE_STRING_MAX) throw new ShapeError(`${at} is a string of ${v.length} characters, over the limit of ${STATE_STRING_MAX} (README "Limits on input")`);
  if (CONTROL.test(v)) throw new ShapeError(`${at} contains a control character (U+${v.charCodeAt(v.search(CONTROL)).toString(16).padStart(4, '0')}), which no vfioctl state holds`);
};
/** text as user space wrote it (driver_override, a module parameter) or the kernel logged it: any characters, bounded */
const text: Check = (v, at) => {
  if (typeof v !== 'string') bad(at, 'a string', v);
  if (v.length > STATE_STRING_MAX) throw new ShapeError(`${at} is a string of ${v.length} characters, over the limit of ${STATE_STRING_MAX} (README "Limits on input")`);
};
/** a name used in sysfs paths: non-empty, no '/' */
const name: Check = (v, at) => {
  str(v, at);
  if (v === '' || (v as string).includes('/') || v === '.' || v === '..') bad(at, 'a name (not empty, no "/", not "." or "..")', v);
};
const int: Check = (v, at) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(at, 'a whole number', v);
};
const count: Check = (v, at) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(at, 'a whole number ≥ 0', v);
};
const bool: Check = (v, at) => {
  if (typeof v !== 'boolean') bad(at, 'true or false', v);
};
const hex: Check = (v, at) => {
  if (typeof v !== 'string' || !/^0x[0-9a-f]{1,16}$/.test(v)) bad(at, 'a hex string ("0x1000")', v);
};
const oneOf = (...vals: readonly string[]): Check => (v, at) => {
  if (typeof v !== 'string' || !vals.includes(v)) bad(at, vals.map((x) => `"${x}"`).join(' or '), v);
};
const nullable = (c: Check): Check => (v, at) => {
  if (v !== null) c(v, at);
};
/** a field older files may lack */
const opt = (c: Check): Check & { optional: true } => Object.assign((v: unknown, at: string) => {
  if (v !== undefined) c(v, at);
}, { optional: true as const });
const arrayOf = (c: Check): Check => (v, at) => {
  if (!Array.isArray(v)) bad(at, 'an array', v);
  for (let i = 0; i < v.length; i++) c(v[i], `${at}[${i}]`);
};
const recordOf = (c: Check): Check => (v, at) => {
  if (!isObj(v)) bad(at, 'an object', v);
  for (const k in v) {
    str(k, `${at} key`);
    c(v[k], `${at}.${k}`);
  }
};
type Fields = Record<string, Check>;
const obj = (fields: Fields): Check => {
  const keys = Object.keys(fields);
  return (v, at) => {
    if (!isObj(v)) bad(at, 'an object', v);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      fields[k]!(v[k], `${at}.${k}`);
    }
  };
};
const any: Check = () => {};

// ---- the tables: one per object type of src/base/machine.ts ----

const REGION: Fields = { start: hex, size: hex, readOnly: opt(bool) };
const IRQ: Fields = { hwirq: count, trigger: count, controller: str };
const RESET_LINE: Fields = { controller: str, args: arrayOf(int), sharedWith: arrayOf(str) };
const IOVA = obj({ start: hex, size: hex });
const ACTIVITY: Fields = {
  running: bool,
  dmaWrites: count,
  dmaFaults: count,
  irqsRaised: arrayOf(count),
  masked: arrayOf(bool),
  iova: nullable(IOVA),
  programmedBy: nullable(str),
};
const RESET_METHOD: Check = (v, at) => {
  if (!isObj(v)) bad(at, 'an object', v);
  if (v['kind'] === 'module') obj({ module: name, compatible: str })(v, at);
  else if (v['kind'] === 'reset-controller') obj({ controller: str, args: arrayOf(int) })(v, at);
  else if (v['kind'] !== 'acpi') bad(`${at}.kind`, '"module", "acpi" or "reset-controller"', v['kind']);
};
const VFIO: Fields = { index: count, reset: nullable(RESET_METHOD), openCount: count, flags: count };
const OF: Fields = { name: str, fullName: str, type: nullable(str), compatible: arrayOf(str), aliases: arrayOf(str) };
const DEVICE: Fields = {
  name,
  bus: oneOf('platform', 'amba'),
  of: obj(OF),
  parentDir: str,
  regions: arrayOf(obj(REGION)),
  irqs: arrayOf(obj(IRQ)),
  iommuGroup: nullable(count),
  resets: arrayOf(obj(RESET_LINE)),
  periphid: opt(count),
  acpiRst: opt(bool),
  driver: nullable(name),
  driverOverride: nullable(text),
  vfio: nullable(obj(VFIO)),
  activity: obj(ACTIVITY),
};
const DRIVER: Fields = {
  name,
  bus: oneOf('platform', 'amba'),
  compatible: arrayOf(str),
  kind: oneOf('host', 'vfio'),
  module: nullable(name),
  probeError: nullable(str),
};
const GROUP: Fields = { id: count, devices: arrayOf(name), owner: nullable(str), type: str, iommu: nullable(str) };
const MODULE: Fields = { name, params: recordOf(text), holders: arrayOf(str), builtin: bool };
const RESET_HANDLER: Fields = { compatible: str, module: name, deprecation: nullable(str), warned: bool };
const MODULE_INFO: Fields = {
  name,
  aliases: arrayOf(str),
  reset: nullable(obj({ compatible: str, deprecation: nullable(str) })),
  drivers: arrayOf(name),
  depends: arrayOf(name),
};
const OWNER: Fields = { name: str, pid: count, alive: bool, groups: arrayOf(count), devices: arrayOf(name), iova: IOVA };
const LOG: Fields = { t: count, level: count, text };
const MACHINE: Fields = {
  model: str,
  tree: obj({ file: str, format: oneOf('vfioctl-yaml', 'dtc-yaml', 'dtb', 'dts') }),
  clockUs: count,
  buses: obj({ platform: obj({ autoprobe: bool }), amba: obj({ autoprobe: bool }) }),
  devices: arrayOf(obj(DEVICE)),
  drivers: arrayOf(obj(DRIVER)),
  groups: arrayOf(obj(GROUP)),
  modules: arrayOf(obj(MODULE)),
  resetHandlers: arrayOf(obj(RESET_HANDLER)),
  modulesAvailable: arrayOf(obj(MODULE_INFO)),
  owners: arrayOf(obj(OWNER)),
  nextPid: count,
  log: arrayOf(obj(LOG)),
  options: obj({ legacyMessages: bool, genericResetWhatIf: bool }),
  lessons: opt(any),
};

/** The tables, for code that adds a field (and for tests). */
export const SHAPES = { MACHINE, DEVICE, DRIVER, GROUP, MODULE, MODULE_INFO, RESET_HANDLER, OWNER, LOG, REGION, IRQ, RESET_LINE, ACTIVITY, VFIO, OF } as const;

/** Check the whole machine; returns it, or throws ShapeError with the path of the first fault. */
export function checkMachine(m: Machine): Machine {
  obj(MACHINE)(m, 'machine');
  checkRefs(m);
  return m;
}

/** The cross-references: what names another object names one that exists, and agrees. */
function checkRefs(m: Machine): void {
  const devices = new Map<string, Device>();
  m.devices.forEach((d, i) => {
    if (devices.has(d.name)) throw new ShapeError(`machine.devices[${i}].name "${d.name}" is the name of an earlier device too`);
    devices.set(d.name, d);
  });
  const drivers = new Map<string, { kind: string }>();
  m.drivers.forEach((d, i) => {
    const k = `${d.bus}/${d.name}`;
    if (drivers.has(k)) throw new ShapeError(`machine.drivers[${i}] registers ${d.bus} driver "${d.name}" a second time`);
    drivers.set(k, d);
  });
  const groups = new Map<number, { devices: string[] }>();
  m.groups.forEach((g, i) => {
    if (groups.has(g.id)) throw new ShapeError(`machine.groups[${i}].id ${g.id} is the id of an earlier group too`);
    groups.set(g.id, g);
  });
  const owners = new Set<string>();
  m.owners.forEach((o, i) => {
    if (owners.has(o.name)) throw new ShapeError(`machine.owners[${i}].name "${o.name}" is the name of an earlier owner too`);
    owners.add(o.name);
  });
  const modules = new Set<string>();
  m.modules.forEach((x, i) => {
    if (modules.has(x.name)) throw new ShapeError(`machine.modules[${i}].name "${x.name}" is the name of an earlier loaded module too`);
    modules.add(x.name);
  });
  m.devices.forEach((d, i) => {
    const at = `machine.devices[${i}]`;
    if (d.driver !== null) {
      const drv = drivers.get(`${d.bus}/${d.driver}`);
      if (!drv) throw new ShapeError(`${at}.driver "${d.driver}" is no registered ${d.bus} driver`);
      if (d.vfio !== null && drv.kind !== 'vfio') throw new ShapeError(`${at}.vfio is set, but its driver "${d.driver}" is not a VFIO driver`);
    } else if (d.vfio !== null) throw new ShapeError(`${at}.vfio is set on a device bound to no driver`);
    if (d.iommuGroup !== null) {
      const g = groups.get(d.iommuGroup);
      if (!g) throw new ShapeError(`${at}.iommuGroup ${d.iommuGroup} is no IOMMU group of this machine`);
      if (!g.devices.includes(d.name)) throw new ShapeError(`${at}.iommuGroup is ${d.iommuGroup}, but that group does not list "${d.name}"`);
    }
  });
  const member = new Set<string>();
  m.groups.forEach((g, i) => {
    g.devices.forEach((n, j) => {
      const d = devices.get(n);
      const at = `machine.groups[${i}].devices[${j}]`;
      if (!d) throw new ShapeError(`${at} "${n}" is no device of this machine`);
      if (d.iommuGroup !== g.id) throw new ShapeError(`${at} "${n}" is a member of group ${g.id}, but the device says group ${d.iommuGroup}`);
      if (member.has(n)) throw new ShapeError(`${at} "${n}" is listed twice`);
      member.add(n);
    });
    if (g.owner !== null && !owners.has(g.owner)) throw new ShapeError(`machine.groups[${i}].owner "${g.owner}" is no owner of this machine`);
  });
  m.owners.forEach((o, i) => {
    o.devices.forEach((n, j) => {
      if (!devices.has(n)) throw new ShapeError(`machine.owners[${i}].devices[${j}] "${n}" is no device of this machine`);
    });
    o.groups.forEach((id, j) => {
      if (!groups.has(id)) throw new ShapeError(`machine.owners[${i}].groups[${j}] ${id} is no IOMMU group of this machine`);
    });
  });
}

