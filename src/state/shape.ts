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
import type { Machine, Device, IommuGroup } from '../base/machine.js';
import { ShapeError, isObj, kind } from './codec-util.js';

/**
 * What is wrong with a value: the words after its path ("is missing (a string)"), and the
 * path segments, innermost first, added by each container on the way out. Nothing is
 * allocated while values are right.
 */
interface Fault {
  segs: string[];
  tail: string;
}
/**
 * Checks one value: null when it is right. A check of a plain value also carries `gen`,
 * the same test as a JavaScript expression over `x`: obj() and arrayOf() compile their
 * tables into one function each, with constant property names and the plain tests
 * inline, because a 10,000-device machine is checked once per command in code that V8
 * has not optimised yet, where every call and every lookup by a variable key counts.
 */
type CheckFn = (v: unknown) => Fault | null;
type Check = CheckFn & { gen?: (x: string) => string; compile?: () => CheckFn };

/**
 * A check whose generated function is made on its first use: most commands read a state
 * file vfioctl sealed itself (digest.ts) and never check it, so they should not pay for
 * compiling these (new Function is not in the V8 code cache of the bundle).
 */
function compiled(make: () => CheckFn): Check {
  let f: CheckFn | undefined;
  const c: Check = (v) => (f ??= make())(v);
  c.compile = () => (f ??= make());
  return c;
}
/** the function behind a check, compiled now (what generated code calls directly) */
const real = (c: Check): CheckFn => (c.compile ? c.compile() : c);

const fault = (tail: string): Fault => ({ segs: [], tail });
const bad = (what: string, v: unknown): Fault => fault(v === undefined ? `is missing (${what})` : `is ${kind(v)}, expected ${what}`);

/** C0 controls, DEL and C1 controls: never in any string vfioctl writes (they would reach terminals) */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const HEX = /^0x[0-9a-f]{1,16}$/;
const NAME = 'a name (not empty, no "/", not "." or "..")';

/** what the generated code reaches: the slow paths and the shared switch */
const H = {
  bad,
  /** false while checking a text that holds no control character at all (checkMachine) */
  cp: true,
  CONTROL,
  HEX,
  ctl: (v: string): Fault => fault(`contains a control character (U+${v.charCodeAt(v.search(CONTROL)).toString(16).padStart(4, '0')}), which no vfioctl state holds`),
};

/** a check from its generated expression (and the same, evaluated, for direct calls) */
function leaf(gen: (x: string) => string): Check {
  const f = compiled(() => new Function('h', `return function (x) { return ${gen('x')}; };`)(H) as CheckFn);
  f.gen = gen;
  return f;
}
const q = (s: string): string => JSON.stringify(s);

/** text as user space wrote it (driver_override, a module parameter) or the kernel logged it: any characters */
const text = leaf((x) => `(typeof ${x} !== 'string' ? h.bad('a string', ${x}) : null)`);
/** a string without control characters */
const str = leaf((x) => `(typeof ${x} !== 'string' ? h.bad('a string', ${x}) : h.cp && h.CONTROL.test(${x}) ? h.ctl(${x}) : null)`);
/** a name used in sysfs paths: non-empty, no '/' */
const name = leaf(
  (x) => `(typeof ${x} !== 'string' ? h.bad('a string', ${x}) : h.cp && h.CONTROL.test(${x}) ? h.ctl(${x}) : ${x} === '' || ${x} === '.' || ${x} === '..' || ${x}.includes('/') ? h.bad(${q(NAME)}, ${x}) : null)`,
);
const int = leaf((x) => `(typeof ${x} !== 'number' || !Number.isSafeInteger(${x}) ? h.bad('a whole number', ${x}) : null)`);
const count = leaf((x) => `(typeof ${x} !== 'number' || !Number.isSafeInteger(${x}) || ${x} < 0 ? h.bad('a whole number ≥ 0', ${x}) : null)`);
const bool = leaf((x) => `(typeof ${x} !== 'boolean' ? h.bad('true or false', ${x}) : null)`);
const hex = leaf((x) => `(typeof ${x} !== 'string' || !h.HEX.test(${x}) ? h.bad('a hex string ("0x1000")', ${x}) : null)`);
const oneOf = (...vals: readonly string[]): Check =>
  leaf((x) => `(${vals.map((v) => `${x} !== ${q(v)}`).join(' && ')} ? h.bad(${q(vals.map((v) => `"${v}"`).join(' or '))}, ${x}) : null)`);
/** null, or what c accepts */
const nullable = (c: Check): Check => (c.gen ? leaf((x) => `(${x} === null ? null : ${c.gen!(x)})`) : Object.assign((v: unknown) => (v === null ? null : c(v)), {}));
/** a field older files may lack */
const opt = (c: Check): Check => (c.gen ? leaf((x) => `(${x} === undefined ? null : ${c.gen!(x)})`) : Object.assign((v: unknown) => (v === undefined ? null : c(v)), {}));

/** the expression checking `x` with c: inline when c has one, else a call of deps[i] */
function use(c: Check, x: string, deps: Check[]): string {
  return c.gen ? c.gen(x) : `d[${deps.push(c) - 1}](${x})`;
}

const arrayOf = (c: Check): Check => {
  const deps: Check[] = [];
  const body = `if (!Array.isArray(v)) return h.bad('an array', v);
    for (let i = 0; i < v.length; i++) { const x = v[i]; const f = ${use(c, 'x', deps)}; if (f !== null) { f.segs.push('[' + i + ']'); return f; } }
    return null;`;
  return compiled(() => new Function('h', 'd', `return function (v) { ${body} };`)(H, deps.map(real)) as CheckFn);
};
const recordOf = (c: Check): Check => (v) => {
  if (!isObj(v)) return bad('an object', v);
  for (const k in v) {
    const f = str(k) ?? c(v[k]);
    if (f) return f.segs.push(`.${k}`), f;
  }
  return null;
};
type Fields = Record<string, Check>;
/** an object with these fields (others are kept, not checked) */
const obj = (fields: Fields): Check => {
  const deps: Check[] = [];
  let body = `if (typeof v !== 'object' || v === null || Array.isArray(v)) return h.bad('an object', v);\n    let f;\n`;
  for (const [k, c] of Object.entries(fields)) {
    body += `    f = ${use(c, `v[${q(k)}]`, deps)}; if (f !== null) { f.segs.push(${q('.' + k)}); return f; }\n`;
  }
  body += '    return null;';
  return compiled(() => new Function('h', 'd', `return function (v) { ${body} };`)(H, deps.map(real)) as CheckFn);
};
const any: Check = () => null;

/**
 * The check of a whole Machine, built from the tables below on first use: a file vfioctl
 * sealed is never checked, so most commands never build them.
 */
function machineTable(): Check {
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
  const RESET_MODULE = obj({ module: name, compatible: str });
  const RESET_CONTROLLER = obj({ controller: str, args: arrayOf(int) });
  const RESET_METHOD: Check = (v) => {
    if (!isObj(v)) return bad('an object', v);
    if (v['kind'] === 'module') return RESET_MODULE(v);
    if (v['kind'] === 'reset-controller') return RESET_CONTROLLER(v);
    if (v['kind'] === 'acpi') return null;
    const f = bad('"module", "acpi" or "reset-controller"', v['kind']);
    return f.segs.push('.kind'), f;
  };
  const VFIO: Fields = { index: count, reset: nullable(RESET_METHOD), openCount: count, flags: count, triggers: opt(arrayOf(nullable(str))) };
  const u32: Check = (v) => (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff ? bad('a 32-bit register value', v) : null);
  const memChunk: Check = (v) => (typeof v !== 'string' || !/^[0-9a-f]{32}$/.test(v) ? bad('16 bytes as 32 lowercase hex digits', v) : null);
  /** src/userspace/registers.ts: the register file behind the MMIO regions */
  const HW: Fields = { regs: recordOf(u32), seq: count, edgePending: arrayOf(bool) };
  const DMA_MAPPING: Fields = { iova: hex, size: hex, flags: count };
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
    dmaCoherent: opt(bool),
    registerModel: opt(oneOf('generic', 'xgmac', 'amd-xgbe', 'flexrm')),
    faults: opt(arrayOf(oneOf('reset-fails', 'phy-timeout', 'mac-reset-fails', 'ring-timeout'))),
    hw: opt(obj(HW)),
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
  const GROUP: Fields = { id: count, devices: arrayOf(name), owner: nullable(str), type: str, iommu: nullable(str), name: opt(str) };
  const MODULE: Fields = { name, params: recordOf(text), holders: arrayOf(str), builtin: bool, once: opt(arrayOf(text)) };
  const RESET_HANDLER: Fields = { compatible: str, module: name, deprecation: nullable(str), warned: bool };
  const MODULE_INFO: Fields = {
    name,
    aliases: arrayOf(str),
    reset: nullable(obj({ compatible: str, deprecation: nullable(str) })),
    drivers: arrayOf(name),
    depends: arrayOf(name),
    softdepPost: opt(arrayOf(name)),
  };
  const OWNER: Fields = {
    name: str,
    pid: count,
    alive: bool,
    groups: arrayOf(count),
    devices: arrayOf(name),
    iova: IOVA,
    eventfds: opt(recordOf(count)),
    dma: opt(obj({ mappings: arrayOf(obj(DMA_MAPPING)), memory: recordOf(memChunk) })),
  };
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
    options: obj({ legacyMessages: bool, genericResetWhatIf: bool, dmaExecWhatIf: opt(bool) }),
    lessons: opt(any),
  };
  return obj(MACHINE);
}


/**
 * Whether a JSON text can hold a control character in a string: JSON writes C0 controls
 * only as escapes (\n, \u001b…); C1 controls and DEL may also stand raw. When a text has
 * none (the common case, found by one native scan), strings are not searched one by one.
 */
// eslint-disable-next-line no-control-regex
const MAY_HAVE_CONTROL = /\\[bfnrt]|\\u00[0-1][0-9a-fA-F]|\\u007[fF]|\\u00[89][0-9a-fA-F]|[\u007f-\u009f]/;

// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u007f-\u009f]/;

let MACHINE_CHECK: Check | undefined;

/**
 * Check the whole machine; returns it, or throws ShapeError with the path of the first
 * fault. `text`, the JSON it was parsed from, lets the search for control characters be
 * skipped when the text has none.
 */
export function checkMachine(m: Machine, text?: string): Machine {
  // (no backslash at all: only a raw C1 control or DEL could be there, a one-class scan)
  H.cp = text === undefined || (text.includes('\\') ? MAY_HAVE_CONTROL.test(text) : RAW_CONTROL.test(text));
  const f = (MACHINE_CHECK ??= machineTable())(m);
  H.cp = true;
  if (f) throw new ShapeError(`machine${f.segs.reverse().join('')} ${f.tail}`);
  checkRefs(m);
  return m;
}

const refFault = (what: string): never => {
  throw new ShapeError(what);
};

/** The cross-references: what names another object names one that exists, and agrees. */
function checkRefs(m: Machine): void {
  const devs = m.devices;
  const byName = new Map<string, Device>();
  for (let i = 0; i < devs.length; i++) {
    const d = devs[i]!;
    if (byName.has(d.name)) refFault(`machine.devices[${i}].name "${d.name}" is the name of an earlier device too`);
    byName.set(d.name, d);
  }
  const drivers = { platform: new Map<string, string>(), amba: new Map<string, string>() };
  for (let i = 0; i < m.drivers.length; i++) {
    const d = m.drivers[i]!;
    const onBus = drivers[d.bus];
    if (onBus.has(d.name)) refFault(`machine.drivers[${i}] registers ${d.bus} driver "${d.name}" a second time`);
    onBus.set(d.name, d.kind);
  }
  const groups = new Map<number, IommuGroup>();
  for (let i = 0; i < m.groups.length; i++) {
    const g = m.groups[i]!;
    if (groups.has(g.id)) refFault(`machine.groups[${i}].id ${g.id} is the id of an earlier group too`);
    groups.set(g.id, g);
  }
  const owners = new Set<string>();
  for (let i = 0; i < m.owners.length; i++) {
    const o = m.owners[i]!;
    if (owners.has(o.name)) refFault(`machine.owners[${i}].name "${o.name}" is the name of an earlier owner too`);
    owners.add(o.name);
  }
  const modules = new Set<string>();
  for (let i = 0; i < m.modules.length; i++) {
    const x = m.modules[i]!;
    if (modules.has(x.name)) refFault(`machine.modules[${i}].name "${x.name}" is the name of an earlier loaded module too`);
    modules.add(x.name);
  }
  // members: each group's list and each device's iommuGroup agree (counted, then compared)
  let members = 0;
  for (let i = 0; i < devs.length; i++) {
    const d = devs[i]!;
    if (d.driver !== null) {
      const kind = drivers[d.bus].get(d.driver);
      if (kind === undefined) refFault(`machine.devices[${i}].driver "${d.driver}" is no registered ${d.bus} driver`);
      if (d.vfio !== null && kind !== 'vfio') refFault(`machine.devices[${i}].vfio is set, but its driver "${d.driver}" is not a VFIO driver`);
    } else if (d.vfio !== null) refFault(`machine.devices[${i}].vfio is set on a device bound to no driver`);
    if (d.iommuGroup !== null) {
      if (!groups.has(d.iommuGroup)) refFault(`machine.devices[${i}].iommuGroup ${d.iommuGroup} is no IOMMU group of this machine`);
      members++;
    }
  }
  const listed = new Set<string>();
  for (let i = 0; i < m.groups.length; i++) {
    const g = m.groups[i]!;
    for (let j = 0; j < g.devices.length; j++) {
      const n = g.devices[j]!;
      const d = byName.get(n);
      const at = `machine.groups[${i}].devices[${j}]`;
      if (!d) refFault(`${at} "${n}" is no device of this machine`);
      else if (d.iommuGroup !== g.id) refFault(`${at} "${n}" is a member of group ${g.id}, but the device says group ${d.iommuGroup}`);
      if (listed.has(n)) refFault(`${at} "${n}" is listed twice`);
      listed.add(n);
    }
    if (g.owner !== null && !owners.has(g.owner)) refFault(`machine.groups[${i}].owner "${g.owner}" is no owner of this machine`);
  }
  if (listed.size !== members) {
    const i = devs.findIndex((d) => d.iommuGroup !== null && !listed.has(d.name));
    refFault(`machine.devices[${i}].iommuGroup is ${devs[i]!.iommuGroup}, but that group does not list "${devs[i]!.name}"`);
  }
  for (let i = 0; i < m.owners.length; i++) {
    const o = m.owners[i]!;
    for (let j = 0; j < o.devices.length; j++) if (!byName.has(o.devices[j]!)) refFault(`machine.owners[${i}].devices[${j}] "${o.devices[j]}" is no device of this machine`);
    for (let j = 0; j < o.groups.length; j++) if (!groups.has(o.groups[j]!)) refFault(`machine.owners[${i}].groups[${j}] ${o.groups[j]} is no IOMMU group of this machine`);
  }
}
