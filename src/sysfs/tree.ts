/**
 * The sysfs (and /dev/vfio) view of a machine: the path → attribute tree, with the
 * kernel's modes and contents. Each attribute's show/store is the kernel function that
 * owns it: the bus files are drivers/base/bus.c (src/base/bus.ts), driver_override is
 * driver.c (src/base/driver.ts), modalias and uevent are platform.c / of/device.c
 * (src/base/platform.ts, src/base/uevent.ts), the group files drivers/iommu/iommu.c.
 */
import type { Machine, Device, BusName, Driver } from '../base/machine.js';
import { BUSES } from '../base/machine.js';
import type { Reason } from '../base/errors.js';
import { bindStore, unbindStore, driversProbeStore, driversAutoprobeStore } from '../base/bus.js';
import { driverSetOverride, driverOverrideShow } from '../base/driver.js';
import { ofModalias, deviceUevent, ambaId } from '../base/platform.js';
import { deviceUeventStore, kobjectUeventStore } from '../base/uevent.js';
import { moduleRefcount, moduleHolders, moduleParamDefs, moduleParamStore } from '../base/module.js';
import { hasVfioNode, iommuGroupStoreType, reservedRegions } from '../iommu/group.js';
import { type VDir, type VNode, dir, lazyDir, entries, ro, wo, rw, link } from './vfs.js';
// the VFIO drivers' code is part of this kernel: loading it registers their operations
import '../vfio/platform.js';

/** Dynamic char majors: the "vfio" region (group nodes) is allocated before "vfio-dev" (device cdevs). */
export const VFIO_GROUP_MAJOR = 511;
export const VFIO_DEV_MAJOR = 510;

export function deviceDir(dev: Device): string {
  return `${dev.parentDir}/${dev.name}`;
}

/** The kobject path of a device (its /sys/devices directory without /sys), as uevent messages print it. */
function kobjPath(dev: Device): string {
  return deviceDir(dev).slice(4);
}

function deviceNode(m: Machine, dev: Device): VDir {
  return dir(() => {
    const e = entries<VNode | (() => VNode)>({
      driver_override: rw(() => driverOverrideShow(dev), (buf) => driverSetOverride(dev, buf)),
      modalias: ro(() => ofModalias(m, dev) + '\n'),
      uevent: rw(() => deviceUevent(m, dev).join('\n') + '\n', (buf) => deviceUeventStore(m, dev, kobjPath(dev), buf)),
      subsystem: link(`/sys/bus/${dev.bus}`),
    });
    if (dev.driver) e['driver'] = link(`/sys/bus/${dev.bus}/drivers/${dev.driver}`);
    if (dev.iommuGroup !== null) e['iommu_group'] = link(`/sys/kernel/iommu_groups/${dev.iommuGroup}`);
    if (dev.bus === 'amba') {
      e['id'] = ro(() => `${ambaId(dev)}\n`);
      e['resource'] = ro(() => {
        const r = dev.regions[0];
        if (!r) return '0x0000000000000000\t0x0000000000000000\t0x0000000000000000\n';
        const s = BigInt(r.start);
        const end = s + BigInt(r.size) - 1n;
        return `0x${s.toString(16).padStart(16, '0')}\t0x${end.toString(16).padStart(16, '0')}\t0x0000000000000200\n`;
      });
    }
    if (dev.vfio) e['vfio-dev'] = dir(() => ({ [`vfio${dev.vfio!.index}`]: dir(() => ({ dev: ro(() => `${VFIO_DEV_MAJOR}:${dev.vfio!.index}\n`) })) }));
    return e;
  });
}

function driverNode(m: Machine, drv: Driver): VDir {
  return dir(() => {
    const e = entries<VNode | (() => VNode)>({
      bind: wo((buf) => bindStore(m, drv, buf)),
      unbind: wo((buf) => unbindStore(m, drv, buf)),
      uevent: wo((buf) => kobjectUeventStore(m, `/bus/${drv.bus}/drivers/${drv.name}`, buf)),
    });
    if (drv.module) e['module'] = link(`/sys/module/${drv.module}`);
    for (const d of m.devices) if (d.bus === drv.bus && d.driver === drv.name) e[d.name] = link(deviceDir(d));
    return e;
  });
}

/** Why a sysfs path a user wrote to does not exist (ENOENT) or cannot be created (EACCES), as facts. */
export function missingPathReason(m: Machine, path: string): Reason | undefined {
  const drv = /^\/sys\/bus\/([^/]+)\/drivers\/([^/]+)(\/|$)/.exec(path);
  if (drv && drv[2] !== '.' && drv[2] !== '..' && !m.drivers.some((d) => d.bus === drv[1] && d.name === drv[2])) {
    const name = drv[2]!;
    if (name === 'vfio-platform' || name === 'vfio-amba') return { kind: 'driver-not-registered', bus: drv[1]!, driver: name };
    return { kind: 'no-such-driver', bus: drv[1]!, driver: name, drivers: m.drivers.filter((d) => d.bus === drv[1]).map((d) => d.name) };
  }
  if (/\/(new_id|remove_id)$/.test(path)) return { kind: 'no-new-id', path };
  return undefined;
}

function busNode(m: Machine, bus: BusName): VDir {
  return dir(() => ({
    // listed and looked up without an entry per device (a machine may have 10,000)
    devices: lazyDir(
      () => m.devices.filter((d) => d.bus === bus).map((d) => d.name),
      (n) => {
        const d = m.devices.find((x) => x.name === n && x.bus === bus);
        return d ? link(deviceDir(d)) : undefined;
      },
    ),
    drivers: dir(() => Object.fromEntries(m.drivers.filter((d) => d.bus === bus).map((d) => [d.name, () => driverNode(m, d)]))),
    drivers_autoprobe: rw(() => (m.buses[bus].autoprobe ? '1\n' : '0\n'), (buf) => driversAutoprobeStore(m, bus, buf)),
    drivers_probe: wo((buf) => driversProbeStore(m, bus, buf)),
    uevent: wo((buf) => kobjectUeventStore(m, `/bus/${bus}`, buf)),
  }));
}

/** The /sys/devices hierarchy: devices nested under the directory of their parent device. */
function devicesTree(m: Machine): VDir {
  // children of each directory, by name: built once, entries made only when looked up
  const byParent = new Map<string, Map<string, Device>>();
  for (const d of m.devices) {
    let l = byParent.get(d.parentDir);
    if (!l) byParent.set(d.parentDir, (l = new Map()));
    l.set(d.name, d);
  }
  const kids = (path: string): Map<string, Device> => byParent.get(path) ?? new Map<string, Device>();
  const withChildren = (d: Device): VDir => {
    const base = deviceNode(m, d);
    const sub = kids(deviceDir(d));
    return lazyDir(
      () => [...base.list(), ...sub.keys()],
      (n) => {
        const c = sub.get(n);
        return c ? withChildren(c) : base.lookup(n);
      },
    );
  };
  const top = kids('/sys/devices/platform');
  const uevent = rw(() => '', (b) => kobjectUeventStore(m, '/devices/platform', b));
  const platform = lazyDir(
    () => [...top.keys(), 'uevent'],
    (n) => {
      const c = top.get(n);
      return c ? withChildren(c) : n === 'uevent' ? uevent : undefined;
    },
  );
  return dir(() => ({ platform }));
}

function moduleNode(m: Machine, name: string): VDir {
  return dir(() => {
    const mod = m.modules.find((x) => x.name === name)!;
    const e = entries<VNode | (() => VNode)>({
      initstate: ro(() => 'live\n'),
      refcnt: ro(() => `${moduleRefcount(m, name)}\n`),
      holders: dir(() => Object.fromEntries(moduleHolders(m, name).map((h) => [h, link(`/sys/module/${h}`)]))),
      uevent: wo((b) => kobjectUeventStore(m, `/module/${name}`, b)),
    });
    const params = Object.keys(mod.params);
    const defs = moduleParamDefs(name);
    if (params.length) {
      e['parameters'] = dir(() => Object.fromEntries(params.map((p) => {
        const show = (): string => `${mod.params[p]}\n`;
        const mode = Object.hasOwn(defs, p) ? defs[p]!.mode : 0o444;
        return [p, mode & 0o222 ? rw(show, (buf) => moduleParamStore(m, name, p, buf), mode) : ro(show, mode)];
      })));
    }
    const drvs = m.drivers.filter((d) => d.module === name);
    if (drvs.length) e['drivers'] = dir(() => Object.fromEntries(drvs.map((d) => [`${d.bus}:${d.name}`, link(`/sys/bus/${d.bus}/drivers/${d.name}`)])));
    return e;
  });
}

export function sysRoot(m: Machine): VDir {
  // the device hierarchy only changes when a machine boots: index it once per tree, not per path walk
  let devices: VDir | null = null;
  return dir(() => ({
    sys: dir(() => ({
      bus: dir(() => Object.fromEntries(BUSES.map((b) => [b, () => busNode(m, b)]))),
      devices: () => (devices ??= devicesTree(m)),
      kernel: dir(() => ({
        iommu_groups: dir(() =>
          Object.fromEntries(
            m.groups.map((g) => [
              String(g.id),
              () =>
                dir(() => ({
                  devices: dir(() => Object.fromEntries(g.devices.map((n) => {
                    const d = m.devices.find((x) => x.name === n)!;
                    return [n, link(deviceDir(d))];
                  }))),
                  ...(g.name !== undefined ? { name: ro(() => `${g.name}\n`) } : {}),
                  reserved_regions: ro(() => reservedRegions(m, g)),
                  type: rw(() => `${g.type}\n`, (buf) => iommuGroupStoreType(m, g, buf)),
                })),
            ]),
          ),
        ),
      })),
      module: dir(() => Object.fromEntries(m.modules.map((mod) => [mod.name, () => moduleNode(m, mod.name)]))),
    })),
    dev: dir(() => ({
      vfio: dir(() => {
        const e: Record<string, VNode> = { vfio: { kind: 'chr', mode: 0o666, rdev: '10:196' } };
        if (m.modules.some((x) => x.name === 'vfio')) {
          for (const g of m.groups) if (hasVfioNode(m, g)) e[g.name === 'vfio-noiommu' ? `noiommu-${g.id}` : String(g.id)] = { kind: 'chr', mode: 0o600, rdev: `${VFIO_GROUP_MAJOR}:${g.id}` };
        } else delete e['vfio'];
        return e;
      }),
    })),
  }));
}
