/**
 * Which nodes become devices and what they are called, cf. drivers/of/platform.c
 * (of_platform_default_populate_init, of_platform_bus_create, of_device_alloc) and
 * of_device_make_bus_id().
 */
import {
  type DtNode, type DeviceTree, getProp, readStrings, readString, readU32, readCells, propCells,
  nodePath, baseName, phandleMap, hasProp, TreeError,
} from '../tree.js';
import { readReg, translateAddress, translatedRegions, hex, nAddrCells, nSizeCells } from './address.js';
import { readIrqs } from './irq.js';
import type { BusName, Irq, Region } from '../../base/machine.js';
import { isEarlyClaimed } from './early.js';
import { treeArch, type TreeArch } from './arch.js';
import { MachineBudget } from './limits.js';

/** of_default_bus_match_table */
const DEFAULT_BUS_MATCH = ['simple-bus', 'simple-mfd', 'isa', 'arm,amba-bus'];
/** of_skipped_node_table */
const SKIPPED = ['operating-points-v2'];
/** reserved_mem_matches: /reserved-memory children that get a device */
const RESERVED_MEM_MATCHES = ['qcom,rmtfs-mem', 'qcom,cmd-db', 'qcom,smem', 'ramoops', 'nvmem-rmem'];
/**
 * of_device_ids of the QorIQ/CoreNet board code (arch/powerpc/platforms/85xx/corenet_generic.c),
 * passed to of_platform_bus_probe(): compatible entries, plus two `.name` entries for the
 * Freescale hypervisor.
 */
const PPC_CORENET_BUS_IDS = [
  'simple-bus', 'mdio-mux-gpio', 'fsl,fpga-ngpixis', 'fsl,fpga-qixis', 'fsl,srio', 'fsl,p4080-pcie',
  'fsl,qoriq-pcie-v2.2', 'fsl,qoriq-pcie-v2.3', 'fsl,qoriq-pcie-v2.4', 'fsl,qoriq-pcie-v3.0', 'fsl,qe',
];
const PPC_CORENET_BUS_NAMES = ['hypervisor', 'handles'];

/** of_match_node() against a bus-id list: a compatible entry, or (PowerPC) a node-name entry. */
function busMatches(node: DtNode, compats: readonly string[], names: readonly string[]): boolean {
  return isCompatible(node, compats) || (names.length > 0 && names.includes(baseName(node)));
}

export interface IommuRef {
  /** full path of the IOMMU node */
  iommu: string;
  args: number[];
  /** set when the IOMMU driver allocates one group per device (PAMU): the device's path */
  perDevice?: string;
}

export interface DeviceDesc {
  name: string;
  bus: BusName;
  node: DtNode;
  path: string;
  compatible: string[];
  deviceType: string | null;
  /** /sys/devices directory of the parent device */
  parentDir: string;
  regions: Region[];
  irqs: Irq[];
  iommus: IommuRef[];
  resets: { controller: string; args: number[] }[];
  periphid: number | null;
  acpiRst: boolean;
}

/** Called for each device the kernel tries to register; returns false when registration fails (name clash). */
export type AddDevice = (d: DeviceDesc) => boolean;

export function isAvailable(node: DtNode): boolean {
  const s = readString(node, 'status');
  return s === undefined || s === 'okay' || s === 'ok';
}

export function isCompatible(node: DtNode, list: readonly string[]): boolean {
  const c = readStrings(node, 'compatible');
  return !!c && c.some((x) => list.includes(x));
}

/** of_device_make_bus_id */
export function makeBusId(node: DtNode): string {
  let name = '';
  for (let n: DtNode | null = node; n && n.parent; n = n.parent) {
    const reg = readReg(n);
    const first = reg?.[0];
    const addr = first ? translateAddress(n, first.address) : undefined;
    if (addr !== undefined) {
      const mask = readU32(n, 'mask');
      // "%llx.%x.%pOFn": ffs(mask) - 1 in hex (ffs(0) - 1 = -1 prints as ffffffff)
      const bit = mask === undefined ? '' : `.${mask === 0 ? 'ffffffff' : (31 - Math.clz32(mask & -mask)).toString(16)}`;
      const own = `${addr.toString(16)}${bit}.${baseName(n)}`;
      return name ? `${own}:${name}` : own;
    }
    name = name ? `${n.name}:${name}` : n.name;
  }
  return name;
}

export class Populator {
  readonly phandles: Map<number, DtNode>;
  private readonly powerpc: boolean;
  readonly arch: TreeArch;
  private readonly budget: MachineBudget;
  constructor(readonly tree: DeviceTree, readonly add: AddDevice) {
    this.budget = new MachineBudget(tree);
    this.phandles = phandleMap(tree.root);
    this.arch = treeArch(tree.root);
    this.powerpc = this.arch === 'powerpc';
  }

  /** of_platform_default_populate_init (arm/arm64) or the PowerPC board's of_platform_bus_probe */
  run(): void {
    const root = this.tree.root;
    if (this.powerpc) {
      // of_platform_bus_probe(NULL, of_device_ids, NULL): the root itself does not match, so each
      // matching child of the root is a bus; strict = false, so children without `compatible` count too
      this.busNames = PPC_CORENET_BUS_NAMES;
      for (const child of root.children) {
        if (busMatches(child, PPC_CORENET_BUS_IDS, PPC_CORENET_BUS_NAMES)) this.busCreate(child, PPC_CORENET_BUS_IDS, '/sys/devices/platform', false);
      }
      return;
    }
    const reserved = root.children.find((c) => c.name === 'reserved-memory');
    if (reserved) {
      for (const c of reserved.children) if (isCompatible(c, RESERVED_MEM_MATCHES)) this.deviceCreate(c, '/sys/devices/platform', 'platform');
    }
    const fw = root.children.find((c) => c.name === 'firmware');
    if (fw) for (const c of fw.children) this.busCreate(c, [], '/sys/devices/platform', true);
    for (const child of root.children) this.busCreate(child, DEFAULT_BUS_MATCH, '/sys/devices/platform', true);
  }

  private populated = new Set<DtNode>();
  /** `.name` entries of the bus-id list (PowerPC board code only) */
  private busNames: readonly string[] = [];

  /** of_platform_bus_create */
  private busCreate(bus: DtNode, matches: readonly string[], parentDir: string, strict: boolean): void {
    if (strict && !hasProp(bus, 'compatible')) return;
    if (isCompatible(bus, SKIPPED)) return;
    if (isCompatible(bus, ['arm,primecell'])) {
      this.deviceCreate(bus, parentDir, 'amba');
      return;
    }
    const dir = this.deviceCreate(bus, parentDir, 'platform');
    if (dir === null || !busMatches(bus, matches, this.busNames)) return;
    for (const child of bus.children) this.busCreate(child, matches, dir, strict);
  }

  /** of_platform_device_create_pdata / of_amba_device_create; returns the device's sysfs dir or null. */
  private deviceCreate(node: DtNode, parentDir: string, bus: BusName): string | null {
    if (!isAvailable(node) || this.populated.has(node)) return null;
    if (isEarlyClaimed(node, this.phandles, this.arch)) return null;
    this.populated.add(node);
    const name = makeBusId(node);
    const d: DeviceDesc = {
      name,
      bus,
      node,
      path: nodePath(node),
      compatible: [...(readStrings(node, 'compatible') ?? [])],
      deviceType: readString(node, 'device_type') ?? null,
      parentDir,
      regions: this.regions(node),
      irqs: readIrqs(node, this.phandles),
      iommus: this.iommus(node),
      resets: this.specifiers(node, 'resets', '#reset-cells').map((s) => ({ controller: s.iommu, args: s.args })),
      periphid: readU32(node, 'arm,primecell-periphid') ?? null,
      acpiRst: hasProp(node, 'vfioctl,acpi-rst'),
    };
    this.budget.add(d);
    if (!this.add(d)) {
      this.budget.remove();
      this.populated.delete(node);
      return null;
    }
    return `${parentDir}/${name}`;
  }

  private regions(node: DtNode): Region[] {
    const p = getProp(node, 'reg');
    if (p) {
      const cells = propCells(node, p);
      const step = nAddrCells(node) + nSizeCells(node);
      if (step > 0 && cells.length % step !== 0) {
        throw new TreeError(
          `bad cell count: "reg" of ${nodePath(node)} has ${cells.length} cells, not a multiple of #address-cells + #size-cells = ${step}`,
          p.loc ?? node.loc ?? { file: this.tree.file },
        );
      }
    }
    return translatedRegions(node).map((r) => ({ start: hex(r.address), size: hex(r.size) }));
  }

  /** `iommus` (phandle + #iommu-cells args) or PAMU-style `fsl,iommu-parent`. Only available IOMMUs count. */
  private iommus(node: DtNode): IommuRef[] {
    const refs = this.specifiers(node, 'iommus', '#iommu-cells');
    const pamu = readU32(node, 'fsl,iommu-parent');
    if (refs.length === 0 && pamu !== undefined) {
      const target = this.phandles.get(pamu);
      // fsl_pamu gives every platform device a group of its own
      if (target) refs.push({ iommu: nodePath(target), args: readCells(node, 'fsl,liodn') ?? [], perDevice: nodePath(node) });
    }
    return refs.filter((r) => {
      const t = this.byPath(r.iommu);
      return t !== undefined && isAvailable(t);
    });
  }

  private byPathCache: Map<string, DtNode> | null = null;
  private byPath(path: string): DtNode | undefined {
    if (!this.byPathCache) {
      this.byPathCache = new Map();
      const walk = (n: DtNode): void => {
        this.byPathCache!.set(nodePath(n), n);
        for (const c of n.children) walk(c);
      };
      walk(this.tree.root);
    }
    return this.byPathCache.get(path);
  }

  /** phandle-with-args lists (of_parse_phandle_with_args). Bad cell counts are tree errors. */
  specifiers(node: DtNode, prop: string, cellsName: string): IommuRef[] {
    const p = getProp(node, prop);
    if (!p) return [];
    const cells = propCells(node, p);
    const out: IommuRef[] = [];
    let i = 0;
    while (i < cells.length) {
      const target = this.phandles.get(cells[i]!);
      const loc = p.loc ?? node.loc ?? { file: this.tree.file };
      if (!target) throw new TreeError(`"${prop}" of ${nodePath(node)} refers to phandle 0x${cells[i]!.toString(16)}, which no node has`, loc);
      const n = readU32(target, cellsName);
      if (n === undefined) throw new TreeError(`"${prop}" of ${nodePath(node)} points at ${nodePath(target)}, which has no ${cellsName}`, loc);
      if (i + 1 + n > cells.length) {
        throw new TreeError(`bad cell count: "${prop}" of ${nodePath(node)} needs ${n} argument cell(s) after the phandle (${cellsName} of ${nodePath(target)})`, loc);
      }
      out.push({ iommu: nodePath(target), args: cells.slice(i + 1, i + 1 + n) });
      i += 1 + n;
    }
    return out;
  }
}

/** Every `resets` reference in the tree, by "controller args" key → node paths (for shared-line detection). */
export function resetUsers(tree: DeviceTree, pop: Populator): Map<string, string[]> {
  const m = new Map<string, string[]>();
  const walk = (n: DtNode): void => {
    if (getProp(n, 'resets') && isAvailable(n)) {
      for (const s of pop.specifiers(n, 'resets', '#reset-cells')) {
        const k = `${s.iommu} ${s.args.join(' ')}`;
        const l = m.get(k) ?? [];
        l.push(nodePath(n));
        m.set(k, l);
      }
    }
    for (const c of n.children) walk(c);
  };
  walk(tree.root);
  return m;
}
