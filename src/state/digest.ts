/**
 * The seal on a state file vfioctl wrote: a 128-bit fingerprint of everything after it,
 * kept at the start of the document, `{"format":"vfioctl-state","version":2,"seal":"<32 hex>",…`.
 *
 * A file whose seal matches is byte for byte what a vfioctl wrote from a machine it had
 * checked, so reading it again skips the whole-machine check (shape.ts): on a
 * 10,000-device machine that check is most of a command's time. Any change to the file
 * (an edit by hand, a damaged block, a file written by another program) breaks the seal,
 * and such a file is checked whole, as before; it is never refused for the seal alone.
 * JSON readers (jq, an editor) see one more string field, which vfioctl's reader ignores.
 *
 * The fingerprint guards against accident, not against someone forging a state file on
 * purpose (they could as well edit vfioctl). It is four multiplicative hash lanes over the
 * file's 32-bit words, written here rather than taken from node:crypto or node:zlib
 * because loading either costs 4–11 ms of start-up (they load streams), more than the
 * fingerprint of a 10,000-device state takes.
 */
import { STATE_FORMAT } from './version.js';

const KEY = 'seal';

/** The fingerprint of these bytes: 32 hex digits. */
export function fingerprint(b: Uint8Array): string {
  const n4 = b.length >>> 2;
  const w = (b.byteOffset & 3) === 0 ? new Int32Array(b.buffer, b.byteOffset, n4) : new Int32Array(b.slice(0, n4 * 4).buffer);
  let h1 = 0x811c9dc5 | 0;
  let h2 = 0x9e3779b9 | 0;
  let h3 = 0x27d4eb2f | 0;
  let h4 = 0x165667b1 | 0;
  const n16 = n4 & ~3;
  let i = 0;
  for (; i < n16; i += 4) {
    h1 = Math.imul(h1 ^ w[i]!, 0x01000193);
    h2 = Math.imul(h2 ^ w[i + 1]!, 0x85ebca6b);
    h3 = Math.imul(h3 ^ w[i + 2]!, 0xc2b2ae35);
    h4 = Math.imul(h4 ^ w[i + 3]!, 0x27d4eb2f);
  }
  for (; i < n4; i++) h1 = Math.imul(h1 ^ w[i]!, 0x01000193);
  // the last 1–3 bytes, and the length (so that trailing zero bytes count)
  for (i = n4 * 4; i < b.length; i++) h2 = Math.imul(h2 ^ b[i]!, 0x85ebca6b);
  h3 = Math.imul(h3 ^ b.length, 0xc2b2ae35);
  const hex = (h: number): string => (h >>> 0).toString(16).padStart(8, '0');
  return hex(h1) + hex(h2) + hex(h3) + hex(h4);
}

/**
 * The document `{"format":…,"version":N,` + `rest` with the seal between, as the bytes to
 * write, in two parts (the head with the seal, and the rest): `rest` is the remainder of
 * the JSON object (its other fields, the closing brace and the newline).
 */
export function seal(version: number, rest: string): [Buffer, Buffer] {
  const body = Buffer.from(rest, 'utf8');
  const head = `{"format":"${STATE_FORMAT}","version":${version},"${KEY}":"${fingerprint(body)}",`;
  return [Buffer.from(head, 'latin1'), body];
}

const HEAD = new RegExp(`^\\{"format":"${STATE_FORMAT}","version":(\\d{1,9}),"${KEY}":"([0-9a-f]{32})",`);

/** Whether these bytes are a document sealed by seal() and unchanged since. */
export function isSealed(data: Uint8Array): boolean {
  const head = Buffer.from(data.buffer, data.byteOffset, Math.min(data.length, 100)).toString('latin1');
  const m = HEAD.exec(head);
  return m !== null && fingerprint(data.subarray(m[0].length)) === m[2];
}
