/**
 * Helpers for the state tests: a generated device tree, a seeded random source,
 * temporary directories removed afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Own-YAML tree with n platform devices `<addr>.dev`, each bound at boot to bench-dev (as scripts/bench.mjs makes). */
export function generatedTree(n: number): string {
  let s = `vfioctl: 1
drivers:
  - name: bench-dev
    compatible: bench,dev
tree:
  model: generated ${n}
  compatible: "bench,machine"
  "#address-cells": 1
  "#size-cells": 1
  interrupt-parent: "&gic"
  interrupt-controller@f0000000:
    $label: gic
    compatible: arm,cortex-a15-gic
    interrupt-controller: true
    "#interrupt-cells": 3
    reg: [[0xf0000000, 0x1000], [0xf0001000, 0x2000]]
  iommu@f0100000:
    $label: smmu
    compatible: ["arm,mmu-500", "arm,smmu-v2"]
    reg: [0xf0100000, 0x10000]
    "#iommu-cells": 1
  soc:
    compatible: simple-bus
    "#address-cells": 1
    "#size-cells": 1
    ranges: true
`;
  for (let i = 0; i < n; i++) {
    const a = 0x10000000 + i * 0x1000;
    s += `    dev@${a.toString(16)}:
      compatible: bench,dev
      reg: [0x${a.toString(16)}, 0x1000]
      interrupts: [0, ${32 + (i % 900)}, 4]
      iommus: ["&smmu", 0x${i.toString(16)}]
`;
  }
  return s;
}
export const devName = (i: number): string => `${(0x10000000 + i * 0x1000).toString(16)}.dev`;

/** mulberry32: a small seeded generator, so that a failing run can be repeated (seed in the diagnostics). */
export function rng(seed: number): { next(): number; int(n: number): number; pick<T>(xs: readonly T[]): T } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n), pick: (xs) => xs[Math.floor(next() * xs.length)]! };
}
const dirs: string[] = [];
export function tempDir(prefix = 'vfioctl-rel-'): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
