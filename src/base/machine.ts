/**
 * The simulated machine: everything the kernel keeps about buses, devices, drivers,
 * IOMMU groups, modules and VFIO users. This is what the state file stores.
 * Plain data only (JSON-safe): 64-bit addresses are lowercase hex strings.
 */
import type { TreeFormat } from '../devicetree/tree.js';

export type BusName = 'platform' | 'amba';
export const BUSES: readonly BusName[] = ['platform', 'amba'];

/** IRQ_TYPE_* of include/linux/irq.h */
export const IRQ_TYPE = {
  NONE: 0,
  EDGE_RISING: 1,
  EDGE_FALLING: 2,
  EDGE_BOTH: 3,
  LEVEL_HIGH: 4,
  LEVEL_LOW: 8,
} as const;
export const IRQ_TYPE_LEVEL_MASK = 0xc;

export function triggerName(t: number): string {
  switch (t & 0xf) {
    case 1: return 'edge-rising';
    case 2: return 'edge-falling';
    case 3: return 'edge-both';
    case 4: return 'level-high';
    case 8: return 'level-low';
    default: return 'none';
  }
}

export interface Region {
  /** CPU physical start address, hex string "0xffe101300" */
  start: string;
  size: string;
  readOnly?: boolean;
}

export interface Irq {
  /** hardware interrupt number within its controller (GIC SPI n → 32+n) */
  hwirq: number;
  /** IRQ_TYPE_* */
  trigger: number;
  /** full path of the interrupt controller node */
  controller: string;
}

export interface ResetLine {
  /** full path of the reset controller node */
  controller: string;
  args: number[];
  /** other devices that use the same line */
  sharedWith: string[];
}

/** What user space (an owner) is doing with the device (issue: vfio activity). */
export interface Activity {
  running: boolean;
  dmaWrites: number;
  dmaFaults: number;
  /** interrupts raised per IRQ index */
  irqsRaised: number[];
  /** level IRQs masked by the automask handler, waiting for UNMASK */
  masked: boolean[];
  /** the IOVA window the device was programmed to DMA into */
  iova: { start: string; size: string } | null;
  /** owner that programmed it last (may be dead) */
  programmedBy: string | null;
}

export interface Device {
  name: string;
  bus: BusName;
  /** of_node identity: base name, full path, device_type, compatibles (order kept) */
  of: { name: string; fullName: string; type: string | null; compatible: string[]; aliases: string[] };
  /** /sys/devices directory of the parent ("/sys/devices/platform" for root children) */
  parentDir: string;
  regions: Region[];
  irqs: Irq[];
  iommuGroup: number | null;
  resets: ResetLine[];
  /** AMBA peripheral id (arm,primecell-periphid or the PL330 default) */
  periphid?: number;
  /** ACPI-style _RST method present (tree option) */
  acpiRst?: boolean;
  /** of_dma_is_coherent: `dma-coherent` on the node or a DMA parent (absent = not coherent) */
  dmaCoherent?: boolean;
  driver: string | null;
  driverOverride: string | null;
  /** VFIO side, present while bound to a VFIO driver */
  vfio: VfioDeviceState | null;
  activity: Activity;
  /** register model named by the tree (`vfioctl,registers`); absent: chosen by the first compatible */
  registerModel?: string;
  /** injected faults (`vfioctl,fault` in the tree, or `vfioctl fault`), e.g. "reset-fails" */
  faults?: string[];
  /** the device's register file and engine (src/userspace/registers.ts), once touched */
  hw?: DeviceHw;
}

/** The simulated hardware behind the MMIO regions: sparse 32-bit registers. */
export interface DeviceHw {
  /** "<region>:<offset hex>" → 32-bit value; only registers of the model, only when not at their reset value */
  regs: Record<string, number>;
  /** DMA records written so far (the engine's sequence number) */
  seq: number;
  /** edge IRQs raised while no handler was enabled, latched by the interrupt controller */
  edgePending: boolean[];
}

export interface VfioDeviceState {
  /** vfio<N> index allocated at vfio_alloc_device */
  index: number;
  /** reset method found at probe: handler module, ACPI _RST, generic reset line, or none */
  reset: ResetMethod | null;
  openCount: number;
  /** VFIO_DEVICE_FLAGS_* fixed at probe (RESET bit OR-ed in) */
  flags: number;
  /** per IRQ index, the eventfd (by name, of the fd's holder) its trigger signals; while a device fd is open */
  triggers?: (string | null)[];
}

export type ResetMethod =
  | { kind: 'module'; module: string; compatible: string }
  | { kind: 'acpi' }
  | { kind: 'reset-controller'; controller: string; args: number[] };

export interface Driver {
  name: string;
  bus: BusName;
  /** of_match_table compatibles */
  compatible: string[];
  /** 'host' kernel driver, or a VFIO bus driver (driver_managed_dma) */
  kind: 'host' | 'vfio';
  /** kernel module providing it, if any (for lsmod/rmmod and the sysfs `module` link) */
  module: string | null;
  /** errno the probe fails with (tree-declared drivers) */
  probeError: string | null;
}

export interface IommuGroup {
  id: number;
  /** member device names, in the order they were added */
  devices: string[];
  /** name of the user-space owner holding the group (VFIO container attached) */
  owner: string | null;
  /** default domain type shown in `type` */
  type: string;
  /** the IOMMU's node path (where its faults are reported from) */
  iommu: string | null;
  /** the group's `name` attribute, set by the driver that made it (`vfio-noiommu`) */
  name?: string;
}

export interface LoadedModule {
  name: string;
  params: Record<string, string>;
  /** modules this one pulled in / is used by (for lsmod "Used by") */
  holders: string[];
  /** user-visible state: a builtin cannot be removed */
  builtin: boolean;
  /** dev_err_once/pr_*_once messages already printed since this module was loaded */
  once?: string[];
}

export interface ResetHandler {
  compatible: string;
  module: string;
  /** the kernel's deprecation notice printed once on first use (v6.18) */
  deprecation: string | null;
  warned: boolean;
}

export interface Owner {
  name: string;
  pid: number;
  alive: boolean;
  /** groups whose /dev/vfio/<N> it holds open, attached to its container */
  groups: number[];
  /** device fds it holds */
  devices: string[];
  /** the IOVA window it mapped with VFIO_IOMMU_MAP_DMA */
  iova: { start: string; size: string };
  /** eventfd(2) counters it created, by name */
  eventfds?: Record<string, number>;
  /** its container's type1 mappings and the memory behind them */
  dma?: OwnerDma;
}

/** One VFIO_IOMMU_MAP_DMA mapping. */
export interface DmaMapping {
  iova: string;
  size: string;
  /** VFIO_DMA_MAP_FLAG_* (READ 0x1, WRITE 0x2; EXEC 0x4 under the what-if) */
  flags: number;
}

export interface OwnerDma {
  mappings: DmaMapping[];
  /** what devices wrote into the mapped memory: 16-byte-aligned IOVA (hex) → 32 hex digits; sparse and bounded */
  memory: Record<string, string>;
}

export interface LogLine {
  /** simulated time in microseconds since boot */
  t: number;
  /** printk level: 3 err, 4 warn, 6 info, 7 debug */
  level: number;
  text: string;
}

export interface Machine {
  model: string;
  tree: { file: string; format: TreeFormat };
  clockUs: number;
  buses: Record<BusName, { autoprobe: boolean }>;
  devices: Device[];
  drivers: Driver[];
  groups: IommuGroup[];
  modules: LoadedModule[];
  resetHandlers: ResetHandler[];
  /** modules that modprobe can load on this machine (name → what it provides) */
  modulesAvailable: ModuleInfo[];
  owners: Owner[];
  nextPid: number;
  log: LogLine[];
  /** policies and what-ifs the user opted into */
  options: { legacyMessages: boolean; genericResetWhatIf: boolean; dmaExecWhatIf?: boolean };
  /** lesson progress (teaching) */
  lessons: Record<string, { step: number; done: boolean }>;
}

export interface ModuleInfo {
  name: string;
  /** `vfio-reset:<compat>` style aliases */
  aliases: string[];
  /** reset handler it registers on load */
  reset: { compatible: string; deprecation: string | null } | null;
  /** drivers it registers on load */
  drivers: string[];
  depends: string[];
  /** MODULE_SOFTDEP("post: …"): loaded by modprobe after this one, not pinned by it */
  softdepPost?: string[];
}

export function findDevice(m: Machine, name: string): Device | undefined {
  return m.devices.find((d) => d.name === name);
}

export function findDriver(m: Machine, bus: BusName, name: string): Driver | undefined {
  return m.drivers.find((d) => d.bus === bus && d.name === name);
}

export function findGroup(m: Machine, id: number): IommuGroup | undefined {
  // groups are kept sorted by id and are usually dense: try the direct slot first
  const g = m.groups[id];
  if (g && g.id === id) return g;
  return m.groups.find((x) => x.id === id);
}

/**
 * What a device read lazily from the state file (src/state/lazy-device.ts) answers under
 * this key: false when it certainly does not run, so that walks over every device need
 * not decode it; anything else (a plain device: undefined) means "look at activity".
 */
export const RUNNING_HINT: unique symbol = Symbol.for('vfioctl.running');

/** Whether the device's engine runs (activity.running), without decoding a lazily read device that is idle. */
export function isRunning(d: Device): boolean {
  return (d as unknown as Record<symbol, unknown>)[RUNNING_HINT] === false ? false : d.activity.running;
}

export function newActivity(nirqs: number): Activity {
  return {
    running: false,
    dmaWrites: 0,
    dmaFaults: 0,
    irqsRaised: new Array<number>(nirqs).fill(0),
    masked: new Array<boolean>(nirqs).fill(false),
    iova: null,
    programmedBy: null,
  };
}
