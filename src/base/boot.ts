/**
 * Boot a machine from a device tree: populate devices, add them to IOMMU groups,
 * register the host drivers the tree needs and let autoprobe bind them, then load
 * the modules the tree asks for. cf. of_platform_default_populate_init, iommu probe,
 * do_initcalls.
 */
import type { DeviceTree } from '../devicetree/tree.js';
import { readString, hasProp, decodeStringList, phandleMap, type DtNode } from '../devicetree/tree.js';
import { Populator, resetUsers, type DeviceDesc } from '../devicetree/of/populate.js';
import { isPowerPc } from '../devicetree/of/arch.js';
import type { Machine, Device, Driver, IommuGroup } from './machine.js';
import { newActivity } from './machine.js';
import { HOST_DRIVERS } from './catalog.js';
import { driverRegister } from './bus.js';
import { stockModules, treeResetModules, modprobe } from './module.js';
import { allocGroup, addDeviceToGroup, defaultDomainType } from '../iommu/group.js';
// the VFIO drivers' code is part of this kernel: loading it registers their operations
import '../vfio/platform.js';
import { printk, KERN_INFO, KERN_ERR, KERN_WARNING } from '../klog/klog.js';
import { isErrnoName } from './errno.js';
import { KernelError } from './errors.js';
import { TreeError } from '../devicetree/tree.js';

/** Peripheral ids of AMBA devices we know (the hardware's PrimeCell id registers). */
const PERIPHIDS: Record<string, number> = { 'arm,pl330': 0x00241330, 'arm,pl011': 0x00241011, 'arm,sp805': 0x00141805, 'arm,pl061': 0x00041061 };

export function emptyMachine(): Machine {
  return {
    model: '',
    tree: { file: '', format: 'vfioctl-yaml' },
    clockUs: 0,
    buses: { platform: { autoprobe: true }, amba: { autoprobe: true } },
    devices: [],
    drivers: [],
    groups: [],
    modules: [],
    resetHandlers: [],
    modulesAvailable: [],
    owners: [],
    nextPid: 1000,
    log: [],
    options: { legacyMessages: false, genericResetWhatIf: false },
    lessons: {},
  };
}

export function boot(tree: DeviceTree, opts: { legacyMessages?: boolean } = {}): Machine {
  const m = emptyMachine();
  m.options.legacyMessages = opts.legacyMessages ?? false;
  m.tree = { file: tree.file, format: tree.format };
  m.model = readString(tree.root, 'model') ?? readString(tree.root, 'compatible') ?? 'unknown';
  printk(m, KERN_INFO, 'Booting Linux on physical CPU 0x0000000000 [0x410fd034]');
  printk(m, KERN_INFO, `Linux version 6.17.0-vfioctl (vfioctl simulated kernel)`);
  printk(m, KERN_INFO, `Machine model: ${m.model}`);

  // powerpc selects ARCH_DMA_DEFAULT_COHERENT; arm and arm64 do not
  const dmaDefaultCoherent = isPowerPc(tree.root);
  const byName = new Map<string, Device>();
  const dirs = new Set<string>();
  const descs: DeviceDesc[] = [];
  const add = (d: DeviceDesc): boolean => {
    const dir = `${d.parentDir}/${d.name}`;
    if (dirs.has(dir)) {
      printk(m, KERN_ERR, `sysfs: cannot create duplicate filename '${dir.slice(4)}'`);
      printk(m, KERN_ERR, `kobject: kobject_add_internal failed for ${d.name} with -EEXIST, don't try to register things with the same name in the same directory.`);
      return false;
    }
    if (byName.has(`${d.bus}/${d.name}`)) {
      printk(m, KERN_ERR, `sysfs: cannot create duplicate filename '/bus/${d.bus}/devices/${d.name}'`);
      return false;
    }
    dirs.add(dir);
    const dev: Device = {
      name: d.name,
      bus: d.bus,
      of: { name: nodeBase(d.path), fullName: d.path, type: d.deviceType, compatible: d.compatible, aliases: [] },
      parentDir: d.parentDir,
      regions: d.bus === 'amba' ? d.regions.slice(0, 1) : d.regions,
      irqs: d.irqs,
      iommuGroup: null,
      resets: [],
      driver: null,
      driverOverride: null,
      vfio: null,
      activity: newActivity(d.irqs.length),
    };
    if (d.bus === 'amba') {
      const compat = d.compatible.find((c) => Object.hasOwn(PERIPHIDS, c)); // not "constructor" & co.
      dev.periphid = d.periphid ?? (compat ? PERIPHIDS[compat]! : 0);
    }
    if (d.acpiRst) dev.acpiRst = true;
    if (ofDmaIsCoherent(d.node, dmaDefaultCoherent)) dev.dmaCoherent = true;
    byName.set(`${d.bus}/${d.name}`, dev);
    m.devices.push(dev);
    descs.push(d);
    return true;
  };
  const pop = new Populator(tree, add);
  pop.run();

  // OF_ALIAS_<n>: the /aliases entries naming each device's node (of_alias_scan order)
  const aliases = ofAliasScan(tree.root);
  descs.forEach((d, i) => {
    const a = aliases.get(d.path);
    if (a) m.devices[i]!.of.aliases = a;
  });

  // reset lines and who else uses them
  const users = resetUsers(tree, pop);
  descs.forEach((d, i) => {
    const dev = m.devices[i]!;
    dev.resets = d.resets.map((r) => ({
      controller: r.controller,
      args: r.args,
      sharedWith: (users.get(`${r.controller} ${r.args.join(' ')}`) ?? []).filter((p) => p !== d.path),
    }));
  });

  // IOMMU groups: devices with the same IOMMU specifiers share one (aliased stream IDs)
  const groupByKey = new Map<string, IommuGroup>();
  descs.forEach((d, i) => {
    if (d.iommus.length === 0) return;
    const dev = m.devices[i]!;
    const key = d.iommus.map((r) => `${r.iommu}:${r.args.join(',')}:${r.perDevice ?? ''}`).join(' ');
    let g = groupByKey.get(key);
    if (!g) {
      g = allocGroup(m, d.iommus[0]!.iommu);
      g.type = defaultDomainType(m, g.iommu);
    }
    groupByKey.set(key, g);
    addDeviceToGroup(m, g, dev);
  });

  m.modulesAvailable = [...stockModules(), ...treeResetModules(tree.extras.resets)];

  // host drivers: the catalog's that this tree needs, in catalog order, then the tree's own
  const compats = new Set(m.devices.flatMap((d) => d.of.compatible));
  const drivers: Driver[] = [];
  for (const c of HOST_DRIVERS) {
    if (c.compatible.some((x) => compats.has(x))) drivers.push({ name: c.name, bus: c.bus, compatible: c.compatible, kind: 'host', module: c.module, probeError: null });
  }
  for (const d of tree.extras.drivers) {
    if (drivers.some((x) => x.name === d.name)) {
      throw new TreeError(`driver "${d.name}" is declared twice (or clashes with a bundled driver of that name)`, d.loc ?? { file: tree.file });
    }
    if (d.probeError !== undefined && !isErrnoName(d.probeError)) throw new TreeError(`unknown errno ${d.probeError}`, d.loc ?? { file: tree.file });
    drivers.push({ name: d.name, bus: 'platform', compatible: d.compatible, kind: 'host', module: null, probeError: d.probeError ?? null });
  }
  for (const drv of drivers) driverRegister(m, drv);

  for (const mod of tree.extras.boot.modules) {
    try {
      modprobe(m, mod.name, mod.params);
    } catch (e) {
      if (e instanceof KernelError) printk(m, KERN_WARNING, e.message);
      else throw e;
    }
  }
  return m;
}

function nodeBase(path: string): string {
  const last = path.slice(path.lastIndexOf('/') + 1);
  const at = last.indexOf('@');
  return at < 0 ? last : last.slice(0, at);
}

/**
 * of_dma_is_coherent: the first of the node and its parents that says `dma-coherent`
 * or `dma-noncoherent` decides; with neither, the architecture's default.
 */
function ofDmaIsCoherent(node: DtNode, dflt: boolean): boolean {
  for (let n: DtNode | null = node; n; n = n.parent) {
    if (hasProp(n, 'dma-coherent')) return true;
    if (hasProp(n, 'dma-noncoherent')) return false;
  }
  return dflt;
}

/**
 * of_alias_scan: each /aliases property whose name ends in digits and whose value is the
 * path of a node (our own YAML may give a "&label" reference, a phandle) becomes an
 * alias of that node, in property order. Returns node path → alias names.
 */
function ofAliasScan(root: DtNode): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const node = root.children.find((c) => c.name === 'aliases');
  if (!node) return out;
  const byPath = new Map<string, DtNode>();
  const byPhandle = phandleMap(root);
  const walk = (n: DtNode, path: string): void => {
    byPath.set(path || '/', n);
    for (const c of n.children) walk(c, `${path}/${c.name}`);
  };
  walk(root, '');
  for (const p of node.properties) {
    if (p.name === 'name' || p.name === 'phandle' || p.name === 'linux,phandle') continue;
    if (!/[0-9]$/.test(p.name)) continue;
    const str = decodeStringList(p.value)[0];
    let target = str !== undefined && str.startsWith('/') ? byPath.get(str) : undefined;
    if (!target && p.value.length === 4) target = byPhandle.get(new DataView(p.value.buffer, p.value.byteOffset, 4).getUint32(0));
    if (!target) continue;
    const path = pathOf(target);
    const l = out.get(path);
    if (l) l.push(p.name);
    else out.set(path, [p.name]);
  }
  return out;
}

function pathOf(n: DtNode): string {
  const parts: string[] = [];
  for (let x: DtNode | null = n; x && x.parent; x = x.parent) parts.unshift(x.name);
  return '/' + parts.join('/');
}
