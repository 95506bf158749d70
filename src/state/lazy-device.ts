/**
 * Devices decoded when a command first looks at them, for state files vfioctl sealed
 * (digest.ts). A sealed file holds one device per line (encode.ts), so reading it costs
 * one split, not one JSON.parse of every device; a command that touches three devices of
 * ten thousand decodes three, and the file it writes back keeps the other lines as they
 * were read.
 *
 * Each device is a Proxy over a plain object. Before its line is decoded it answers the
 * fields every walk over all devices reads (the sysfs tree, bus lookups, IOMMU group
 * membership) from the start of its line, where encode.ts writes them first: `name`,
 * `bus`, `parentDir`, `iommuGroup`, `driver`; and `activity` while the device is idle (no
 * `activity` after those fields: encode.ts writes a busy one there), as the fresh object
 * an idle device has. Any other read, any
 * write, any listing of its keys decodes the line into the object first, exactly as
 * decodeDevice does for a whole-file read. A device once decoded is written anew.
 */
import { newActivity, RUNNING_HINT } from '../base/machine.js';
import type { Device } from '../base/machine.js';
import { decodeDevice, type Carry } from './decode.js';
import type { Obj } from './codec-util.js';

/** What the encoder needs to know of a device that came from a line. */
export interface Cell {
  /** the document read, and where the device's line is in it: [start, stop) (one JSON object) */
  readonly text: string;
  readonly start: number;
  readonly stop: number;
  /** the object behind the Proxy */
  readonly t: Obj;
  /** the line has been decoded into t */
  full: boolean;
  /** the parentDir of the device before this one, as read (the line may leave its own out) */
  readonly prevParent: string;
  /** the document's default IRQ controller, as read */
  readonly irqController: string | null;
  /** an idle activity was handed out before the line was decoded: written anew if it changed */
  activityOut: boolean;
  /** how many IRQs the line has (-1: not counted yet) */
  nirqs: number;
  /** whether the line leaves `activity` out (the device is idle): encode.ts writes it right after the leading fields */
  readonly idle: boolean;
}

/**
 * Key under which a lazy device answers its Cell (a plain device answers undefined).
 */
const LAZY: unique symbol = Symbol('vfioctl.lazyDevice');

/** the fields answered from the start of the line */
const CHEAP = new Set(['name', 'bus', 'parentDir', 'iommuGroup', 'driver']);

/** What lazyDevices makes: the devices and their Cells, index for index. */
export interface LazyDevices {
  devices: Device[];
  cells: Cell[];
  /** the log entries as read, and the line each was read from (a printed line never changes) */
  log?: { entries: readonly unknown[]; lines: readonly string[] };
}

/** The Cell of a device read from a sealed file, or undefined. */
export const cellOf = (d: Device): Cell | undefined => (d as unknown as Record<symbol, Cell | undefined>)[LAZY];

/** The line of a cell (a new string each time: cells keep only where it is). */
const lineOf = (c: Cell): string => c.text.slice(c.start, c.stop);

/** Where `what` first is in the cell's line, or -1. */
export function findInLine(c: Cell, what: string): number {
  const i = c.text.indexOf(what, c.start);
  return i >= 0 && i + what.length <= c.stop ? i : -1;
}

/** How many IRQs the line's device has (each IRQ object has a "hwirq" key; nothing else does). */
function irqCount(c: Cell): number {
  let n = 0;
  for (let i = c.text.indexOf('"hwirq":', c.start); i >= 0 && i < c.stop; i = c.text.indexOf('"hwirq":', i + 8)) n++;
  return n;
}

/** Decode a cell's line into its object (once). */
export function decodeCell(c: Cell): void {
  if (c.full) return;
  const t = c.t;
  const x = JSON.parse(lineOf(c)) as Obj;
  const carry: Carry = { parentDir: c.prevParent, irqController: c.irqController, v1: false };
  decodeDevice(x, 0, carry);
  const activity = c.activityOut ? t['activity'] : undefined;
  for (const k of Object.keys(t)) delete t[k];
  Object.assign(t, x);
  if (activity !== undefined) t['activity'] = activity;
  c.full = true;
}

/** the number of IRQs of a cell's line, counted once */
export function cellIrqs(c: Cell): number {
  if (c.nirqs < 0) c.nirqs = irqCount(c);
  return c.nirqs;
}

/** whether the line left `activity` out: the device is idle (as newActivity makes it) */
const idleLine = (c: Cell): boolean => c.idle;

/** the object behind a cell, decoded */
function full(c: Cell): Obj {
  decodeCell(c);
  return c.t;
}

/**
 * One handler for every lazy device; the Proxy's target is the Cell, whose object `t`
 * the traps answer from (the Cell's own fields are never shown: every trap goes to `t`).
 */
const HANDLER: ProxyHandler<Cell> = {
  get(c, k) {
    if (k === LAZY) return c;
    if (!c.full) {
      if (k === RUNNING_HINT) return c.activityOut || !idleLine(c) ? undefined : false;
      if (typeof k === 'string') {
        if (CHEAP.has(k)) return c.t[k];
        if (k === 'activity' && idleLine(c)) {
          if (c.t['activity'] === undefined) {
            c.t['activity'] = newActivity(cellIrqs(c));
            c.activityOut = true;
          }
          return c.t['activity'];
        }
      } else return Reflect.get(c.t, k);
    }
    return Reflect.get(full(c), k);
  },
  set: (c, k, v) => Reflect.set(full(c), k, v),
  has: (c, k) => k === LAZY || Reflect.has(full(c), k),
  ownKeys: (c) => Reflect.ownKeys(full(c)),
  getOwnPropertyDescriptor: (c, k) => Reflect.getOwnPropertyDescriptor(full(c), k),
  defineProperty: (c, k, d) => Reflect.defineProperty(full(c), k, d),
  deleteProperty: (c, k) => Reflect.deleteProperty(full(c), k),
};

/** where the last readString ended (after the closing quote): no array per call */
let strEnd = 0;

/** The JSON string starting at text[at] (its opening quote); strEnd is set past it. */
function readString(text: string, at: number): string {
  let end = text.indexOf('"', at + 1);
  while (end > 0 && text.charCodeAt(end - 1) === 0x5c) {
    // a quote after backslashes: escaped only if there is an odd number of them
    let n = 0;
    for (let j = end - 1; text.charCodeAt(j) === 0x5c; j--) n++;
    if (n % 2 === 0) break;
    end = text.indexOf('"', end + 1);
  }
  if (end < 0) throw new SyntaxError('unterminated string');
  strEnd = end + 1;
  const raw = text.slice(at + 1, end);
  return raw.includes('\\') ? (JSON.parse(text.slice(at, end + 1)) as string) : raw;
}

const K_NAME = '{"name":"';
const K_BUS = ',"bus":';
const K_PARENT = ',"parentDir":';
const K_GROUP = ',"iommuGroup":';
const K_DRIVER = ',"driver":';
const K_ACTIVITY = ',"activity":';

/**
 * The devices of a sealed document's device section, text[from, end) (one line each,
 * separated by a comma and a newline), with the leading fields read and the rest left for
 * later. Throws SyntaxError when a line does not start the way encode.ts writes it (the
 * caller then reads the file whole). A driver written as the previous device's is that
 * same string (ten thousand devices of one driver share it).
 */
export function lazyDevices(text: string, from: number, end: number, irqController: string | null, firstParent: string): Omit<LazyDevices, 'log'> {
  const out: Device[] = [];
  const cells: Cell[] = [];
  let parent = firstParent;
  let lastDriverRaw = '';
  let lastDriver: string | null = null;
  for (let pos = from, i = 0; pos < end; i++) {
    let stop = text.indexOf(',\n', pos);
    if (stop < 0 || stop > end) stop = end;
    if (!text.startsWith(K_NAME, pos)) throw new SyntaxError(`device line ${i} does not start with its name`);
    const name = readString(text, pos + 8);
    let at = strEnd;
    let bus = 'platform';
    if (text.startsWith(K_BUS, at)) {
      bus = readString(text, at + K_BUS.length);
      at = strEnd;
    }
    const prevParent = parent;
    if (text.startsWith(K_PARENT, at)) {
      parent = readString(text, at + K_PARENT.length);
      at = strEnd;
    }
    let iommuGroup: number | null = null;
    if (text.startsWith(K_GROUP, at)) {
      const p = at + K_GROUP.length;
      let e = p;
      while (e < stop && text.charCodeAt(e) !== 0x2c && text.charCodeAt(e) !== 0x7d) e++;
      iommuGroup = Number(text.slice(p, e));
      if (!Number.isSafeInteger(iommuGroup)) throw new SyntaxError(`device line ${i}: iommuGroup is not a whole number`);
      at = e;
    }
    let driver: string | null = null;
    if (text.startsWith(K_DRIVER, at)) {
      const p = at + K_DRIVER.length;
      if (lastDriver !== null && text.startsWith(lastDriverRaw, p)) {
        driver = lastDriver;
        at = p + lastDriverRaw.length;
      } else {
        driver = readString(text, p);
        at = strEnd;
        lastDriverRaw = text.slice(p, at);
        lastDriver = driver;
      }
    }
    const idle = !text.startsWith(K_ACTIVITY, at);
    const t: Obj = { name, bus, parentDir: parent, iommuGroup, driver };
    const c: Cell = { text, start: pos, stop, t, full: false, prevParent, irqController, activityOut: false, nirqs: -1, idle };
    out.push(new Proxy(c, HANDLER) as unknown as Device);
    cells.push(c);
    pos = stop + 2;
  }
  return { devices: out, cells };
}
