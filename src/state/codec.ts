/**
 * The state document: bytes → Machine and back. The document is
 * `{"format":"vfioctl-state","version":2,"irqController":…,"machine":…}`; version 2 is
 * compact (encode.ts says what it leaves out, decode.ts puts it back), version 1 stores
 * every field and is read by the same decoder with every field required. A decoded
 * machine is then checked whole (shape.ts): its full shape and its cross-references,
 * unless the file carries an unbroken seal (digest.ts): then it is exactly what a vfioctl
 * wrote, from a machine that had been checked.
 * Anything else is a StateError naming the JSON path of the first fault.
 */
import { StateError } from '../base/errors.js';
import type { Machine } from '../base/machine.js';
import { ShapeError, kind, show } from './codec-util.js';
import { decodeMachine } from './decode.js';
import { checkMachine } from './shape.js';
import { isSealed } from './digest.js';
import { lazyDevices, type LazyDevices } from './lazy-device.js';
import { FIRST_PARENT } from './codec-util.js';
import { STATE_FORMAT, STATE_VERSION, STATE_OLDEST_VERSION } from './version.js';

export { STATE_FORMAT, STATE_VERSION } from './version.js';
export { serializeState, encodeState, encodeStateParts } from './encode.js';

/** How to start over from a file that cannot be used (the same words for every fault). */
export const RECOVER = (p: string): string =>
  `the file was left untouched; to start a new machine run: vfioctl --state ${p} load --force default (or another tree), which first moves this file aside to ${p}.corrupt-<time>, so nothing is lost`;

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
  const sealed = typeof data !== 'string' && isSealed(data);
  // a sealed file: everything but the device lines at once, the devices when looked at
  const lazy = sealed ? readSealed(text) : null;
  let doc: unknown = lazy?.doc;
  if (!lazy) {
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new StateError(p, notJson(text, (e as Error).message), RECOVER(p));
    }
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
    const irq = irqController ?? null;
    const m = decodeMachine(o['machine'], v === 1, irq, lazy?.lazy);
    // a file as vfioctl wrote it was checked before it was written (digest.ts)
    return sealed ? m : checkMachine(m, text);
  } catch (e) {
    if (e instanceof ShapeError) throw new StateError(p, `state file has the wrong shape: ${e.message}`, RECOVER(p));
    throw e;
  }
}


/**
 * Where the section `"<key>":[` + newline + lines joined by `,` and newline + newline + `]`
 * of a sealed document is: the index of its key, of its first line, and of the newline
 * that ends its last line. No line holds a newline (JSON escapes them), so the sequence
 * key, `[`, newline is only ever a section start, and the first newline and `]` after it
 * ends it.
 */
function section(text: string, key: string): { at: number; from: number; end: number } | null {
  const start = `"${key}":[\n`;
  const at = text.indexOf(start);
  if (at < 0) return null;
  const from = at + start.length;
  const end = text.indexOf('\n]', from - 1);
  return end < 0 ? null : { at, from, end };
}

const linesOf = (text: string, s: { from: number; end: number }): string[] => (s.end <= s.from ? [] : text.slice(s.from, s.end).split(',\n'));

/**
 * A sealed document split as encode.ts writes it: the devices one per line (read lazily),
 * the kernel log one line per entry (parsed, its lines kept for the next write), and one
 * JSON.parse of everything else. Null when it is not laid out that way (a seal on
 * another layout): the caller reads it whole.
 */
function readSealed(text: string): { doc: unknown; lazy: LazyDevices } | null {
  const dev = section(text, 'devices');
  const log = section(text, 'log');
  if (!dev || !log || log.at < dev.end) return null;
  try {
    const rest = text.slice(0, dev.at) + '"devices":[]' + text.slice(dev.end + 2, log.at) + '"log":[]' + text.slice(log.end + 2);
    const doc = JSON.parse(rest) as Record<string, unknown>;
    const machine = doc['machine'] as Record<string, unknown>;
    const lines = linesOf(text, log);
    const entries = JSON.parse(`[${text.slice(log.from, log.end)}]`) as unknown[];
    if (!machine || entries.length !== lines.length) return null;
    machine['log'] = entries;
    const irq = typeof doc['irqController'] === 'string' ? doc['irqController'] : null;
    // (a copy: the machine's log array grows and is trimmed in place)
    return { doc, lazy: { ...lazyDevices(text, dev.from, dev.end, irq, FIRST_PARENT), log: { entries: entries.slice(), lines } } };
  } catch {
    return null;
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
