/**
 * Small pieces the state codec shares: the shape error (a message naming the JSON path of
 * the fault) and how values are shown in it.
 */
import type { Machine } from '../base/machine.js';

/** A decoded document does not have the shape of a Machine; the message says where. */
export class ShapeError extends Error {}

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v === 'number' ? 'a number' : typeof v === 'string' ? 'a string' : `a ${typeof v}`} (${show(v)})`;
}

export function show(v: unknown): string {
  const s = typeof v === 'number' ? String(v) : JSON.stringify(v) ?? String(v);
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}

export function fail(where: string, what: string, v: unknown): never {
  throw new ShapeError(v === undefined ? `${where} is missing (${what})` : `${where} is ${kind(v)}, expected ${what}`);
}

export function countKeys(o: object): number {
  let n = 0;
  for (const _k in o) n++;
  return n;
}

/** of_node name: the last path component without its unit address */
export function nodeBase(fullName: string): string {
  const last = fullName.slice(fullName.lastIndexOf('/') + 1);
  const at = last.indexOf('@');
  return at < 0 ? last : last.slice(0, at);
}

export const FIRST_PARENT = '/sys/devices/platform';
export const GROUP_KEYS = new Set(['id', 'devices', 'owner', 'type', 'iommu']);

export type { Machine };

/**
 * Under this key (not enumerable) a machine read from a sealed file keeps what
 * lazy-device.ts made of it (its LazyDevices), so that the encoder finds each device's
 * Cell by position (the device at index i is still the one read there) without a trap
 * per device.
 */
export const READ: unique symbol = Symbol('vfioctl.readDevices');
