/**
 * Which kernel would boot this tree: the device tree does not say, but its CPU nodes do.
 * The architecture decides what early code claims before of_platform_populate runs
 * (early.ts) and how devices are populated at all (PowerPC board code, populate.ts).
 *
 *  - `powerpc`: a `/cpus/PowerPC,…` node (the QorIQ/CoreNet trees name their CPUs so).
 *  - `arm64`: a `/cpus` node whose `compatible` names a core that runs AArch64 (the
 *    `arm,armv8` generic one, Cortex-A35…A725, Cortex-X, Neoverse, and the vendor
 *    AArch64 cores below), cf. the CPU bindings in
 *    Documentation/devicetree/bindings/arm/cpus.yaml.
 *  - `arm`: anything else (32-bit cores such as `arm,cortex-a9`/`-a15`, or no CPU nodes
 *    at all, as in vfioctl's own small trees).
 */
import { type DtNode, readStrings } from '../tree.js';

export type TreeArch = 'powerpc' | 'arm64' | 'arm';

/** AArch64-capable CPU compatibles (`arm,cortex-a32` is AArch32 only and stays out). */
const ARM64_CORE = new RegExp(
  '^(?:arm,(?:armv8|armv9|cortex-a(?:34|35|53|55|57|65|65ae|72|73|75|76|76ae|77|78|78ae|78c|510|520|710|715|720|725)' +
    '|cortex-x\\d+c?|neoverse-[a-z]?\\d+[a-z]*)' +
    '|apm,(?:potenza|strega)|cavium,thunder2?|brcm,(?:brahma-b53|vulcan)|nvidia,(?:tegra132-denver|tegra186-denver|tegra194-carmel)' +
    '|qcom,(?:kryo\\d*|falkor|oryon\\d*)|fujitsu,a64fx|hisilicon,tsv110|apple,[a-z]+storm|apple,(?:blizzard|avalanche|everest|sawtooth))$',
);

function cpuNodes(root: DtNode): DtNode[] {
  const cpus = root.children.find((c) => c.name === 'cpus');
  return cpus ? cpus.children : [];
}

/** Whether the tree is a PowerPC board (populated by of_platform_bus_probe with board bus ids). */
export function isPowerPc(root: DtNode): boolean {
  return cpuNodes(root).some((c) => c.name.startsWith('PowerPC,'));
}

/** The architecture a kernel booting this tree is built for (see the header). */
export function treeArch(root: DtNode): TreeArch {
  if (isPowerPc(root)) return 'powerpc';
  for (const c of cpuNodes(root)) {
    if ((readStrings(c, 'compatible') ?? []).some((x) => ARM64_CORE.test(x))) return 'arm64';
  }
  return 'arm';
}
