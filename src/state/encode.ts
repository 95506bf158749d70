/**
 * The v2 encoder: a Machine to the compact JSON of format version 2, sealed (digest.ts).
 */
import { newActivity } from '../base/machine.js';
import type { Machine, Device, Activity, IommuGroup } from '../base/machine.js';
import { isObj, countKeys, nodeBase, FIRST_PARENT, GROUP_KEYS, READ, type Obj } from './codec-util.js';
import { STATE_VERSION } from './version.js';
import { seal } from './digest.js';
import { cellOf, cellIrqs, decodeCell, findInLine, type Cell, type LazyDevices } from './lazy-device.js';

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
 * The devices are written one per line, each with name, bus, parentDir, iommuGroup and
 * driver first (lazy-device.ts reads those without decoding the line), and so are the
 * kernel log's entries; every other part of the document is on the first line or after
 * the devices. A device read from a sealed file and not looked
 * at since is written back as the line it was read from.
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

/** The state document of a machine, as text (what encodeState writes). */
export function serializeState(m: Machine): string {
  return encodeState(m).toString('utf8');
}

/** The state document of a machine, as the bytes of the file. */
export function encodeState(m: Machine): Buffer {
  return Buffer.concat(encodeStateParts(m));
}

/** The state document of a machine, as the bytes of the file in parts (written one after the other). */
export function encodeStateParts(m: Machine): Buffer[] {
  const devices = m.devices;
  const irqController = firstIrqController(devices);
  // the device lines: runs of lines kept as read (one slice of the text read for each run), and lines written anew
  const lines: string[] = [];
  let run: Cell | null = null;
  let runStop = 0;
  const endRun = (): void => {
    if (run) lines.push(run.text.slice(run.start, runStop));
    run = null;
  };
  // the plain objects (behind a lazy device: its Cell's), read without the Proxy's traps
  const view = new Array<Obj>(devices.length);
  let prev: unknown = FIRST_PARENT;
  const read = (m as unknown as Record<symbol, LazyDevices | undefined>)[READ];
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i]!;
    // the device read at this index (no trap), or any device (asked)
    const c = read && read.devices[i] === d ? read.cells[i] : cellOf(d);
    if (c && !c.full && c.prevParent === prev && c.irqController === irqController && (!c.activityOut || isIdle(c.t['activity'] as Activity, cellIrqs(c)))) {
      // as read: nothing of it was looked at but its leading fields
      if (run && run.text === c.text && c.start === runStop + 2) runStop = c.stop;
      else {
        endRun();
        run = c;
        runStop = c.stop;
      }
    } else {
      if (c) decodeCell(c);
      endRun();
      lines.push(encodeDevice((c ? c.t : d) as unknown as Obj, prev, irqController));
    }
    const o = (view[i] = c ? c.t : (d as unknown as Obj));
    prev = o['parentDir'];
  }
  endRun();
  // the fields after format, version and the seal (digest.ts), which covers them; the
  // devices one per line (lazy-device.ts reads them so), everything else on the first
  let rest = irqController !== null ? `"irqController":${JSON.stringify(irqController)},"machine":{` : '"machine":{';
  let first = true;
  const x = m as unknown as Obj;
  for (const k in x) {
    const v =
      k === 'devices'
        ? `[\n${lines.join(',\n')}\n]`
        : k === 'log' && Array.isArray(x[k])
          ? `[\n${logLines(x[k] as unknown[], read?.log).join(',\n')}\n]`
          : JSON.stringify(k === 'groups' ? encodeGroups(m.groups, view as unknown as Device[]) : x[k]);
    if (v === undefined) continue;
    rest += `${first ? '' : ','}${JSON.stringify(k)}:${v}`;
    first = false;
  }
  return seal(STATE_VERSION, rest + '}}\n');
}

/**
 * The log, one line per entry: an entry read from the file (the same object, which
 * nothing changes once printed) is written as the line it was read from. The ring drops
 * entries at its start and adds them at its end, so the kept ones are one run.
 */
function logLines(log: readonly unknown[], read: LazyDevices['log']): string[] {
  const out = new Array<string>(log.length);
  let j = read && log.length > 0 ? read.entries.indexOf(log[0]) : -1;
  for (let i = 0; i < log.length; i++) {
    if (j >= 0 && j < read!.lines.length && read!.entries[j] === log[i]) out[i] = read!.lines[j++]!;
    else {
      j = -1;
      out[i] = JSON.stringify(log[i]) ?? 'null';
    }
  }
  return out;
}

/** The controller of the first IRQ: the one an IRQ that names none has (most have it). */
function firstIrqController(devices: readonly Device[]): string | null {
  for (const d of devices) {
    const c = cellOf(d);
    if (c && !c.full) {
      if (cellIrqs(c) === 0) continue;
      // its IRQs name no controller: they have the one the document named
      if (findInLine(c, '"controller":') < 0) return c.irqController;
    }
    if (!Array.isArray(d.irqs)) continue;
    for (const q of d.irqs) if (isObj(q) && typeof q.controller === 'string') return q.controller;
  }
  return null;
}

/**
 * One device as its line: the fields decodeDevice restores left out, and the ones
 * lazy-device.ts reads without decoding (name, bus, parentDir, iommuGroup, driver)
 * first, in that order, then `activity` when it is not idle. Whether a field is left out depends only on its own value (and,
 * for parentDir, on the previous device's), so an object two devices share is written
 * the same way at both places.
 */
function encodeDevice(d: Obj, prevParent: unknown, irqController: string | null): string {
  const o: Obj = { name: d['name'] };
  if (d['bus'] !== 'platform') o['bus'] = d['bus'];
  if (d['parentDir'] !== prevParent) o['parentDir'] = d['parentDir'];
  if (d['iommuGroup'] !== null) o['iommuGroup'] = d['iommuGroup'];
  if (d['driver'] !== null) o['driver'] = d['driver'];
  const irqs = d['irqs'];
  const nirqs = Array.isArray(irqs) ? irqs.length : -1;
  // a device that is not idle says so right after the leading fields (lazy-device.ts looks there)
  if ('activity' in d && !(nirqs >= 0 && isIdle(d['activity'] as Activity, nirqs))) o['activity'] = d['activity'];
  for (const k in d) {
    const v = d[k];
    switch (k) {
      case 'name':
      case 'bus':
      case 'parentDir':
      case 'iommuGroup':
      case 'driver':
        continue;
      case 'of':
        o[k] = isObj(v) ? encodeOf(v) : v;
        continue;
      case 'regions':
      case 'resets':
        if (!isEmptyArray(v)) o[k] = v;
        continue;
      case 'irqs':
        if (nirqs > 0 && irqController !== null) o[k] = (v as unknown[]).map((q) => (isObj(q) && q['controller'] === irqController ? withoutController(q) : q));
        else if (nirqs !== 0) o[k] = v;
        continue;
      case 'driverOverride':
      case 'vfio':
        if (v !== null) o[k] = v;
        continue;
      case 'activity':
        continue; // above
      default:
        o[k] = v;
    }
  }
  return JSON.stringify(o);
}

/** of_node with its defaults left out: `name` when it is fullName's base, `type` null, `aliases` [] */
function encodeOf(of: Obj): Obj {
  const o: Obj = {};
  const fullName = of['fullName'];
  for (const k in of) {
    const v = of[k];
    if (k === 'name' && typeof fullName === 'string' && v === nodeBase(fullName)) continue;
    if (k === 'type' && v === null) continue;
    if (k === 'aliases' && isEmptyArray(v)) continue;
    o[k] = v;
  }
  return o;
}

function withoutController(q: Obj): Obj {
  const o: Obj = {};
  for (const k in q) if (k !== 'controller') o[k] = q[k];
  return o;
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