/** A tiny FDT writer for hostile blobs in tests (cf. scripts/dtc/flattree.c). */

export class StructWriter {
  bytes: number[] = [];
  u32(v: number): this {
    this.bytes.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    return this;
  }
  pad(): this {
    while (this.bytes.length % 4) this.bytes.push(0);
    return this;
  }
  begin(name: string): this {
    this.u32(1);
    for (const c of name) this.bytes.push(c.charCodeAt(0));
    this.bytes.push(0);
    return this.pad();
  }
  prop(nameoff: number, value: number[]): this {
    this.u32(3).u32(value.length).u32(nameoff);
    this.bytes.push(...value);
    return this.pad();
  }
  end(): this {
    return this.u32(2);
  }
  nop(): this {
    return this.u32(4);
  }
  finish(): this {
    return this.u32(9);
  }
}

export interface BlobParts {
  struct: number[];
  strings?: string;
  version?: number;
  lastComp?: number;
  /** header field overrides by index (0 = magic … 9 = size_dt_struct) */
  header?: Partial<Record<number, number>>;
}

/** Header (40 bytes), empty reservation map, struct block, strings block. */
export function blob(parts: BlobParts): Uint8Array {
  const strings = Array.from(parts.strings ?? 'compatible\0reg\0', (c) => c.charCodeAt(0));
  const offRsv = 40;
  const offStruct = offRsv + 16;
  const offStrings = offStruct + parts.struct.length;
  const total = offStrings + strings.length;
  const fields = [0xd00dfeed, total, offStruct, offStrings, offRsv, parts.version ?? 17, parts.lastComp ?? 16, 0,
    strings.length, parts.struct.length];
  for (const [k, v] of Object.entries(parts.header ?? {})) fields[Number(k)] = v ?? 0;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  fields.forEach((v, i) => dv.setUint32(i * 4, v >>> 0, false));
  out.set(parts.struct, offStruct);
  out.set(strings, offStrings);
  return out;
}

export const GOOD_STRUCT = (): StructWriter =>
  new StructWriter().begin('').prop(0, [0x61, 0]).begin('dev@1').prop(11, [0, 0, 0, 1]).end().end().finish();
