/**
 * The v2 encoder: a Machine to the compact JSON of format version 2.
 */
import { newActivity } from '../base/machine.js';
import type { Machine, Device, Activity, IommuGroup } from '../base/machine.js';
import { isObj, countKeys, nodeBase, FIRST_PARENT, GROUP_KEYS, type Obj } from './codec-util.js';
import { STATE_FORMAT, STATE_VERSION } from './version.js';

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


/** the fields of Activity this codec knows: with one more (added later) it is never "idle" */
const ACTIVITY_FIELDS = Object.keys(newActivity(0)).length;


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