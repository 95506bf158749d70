/**
 * The sysfs (and /dev/vfio) view of a machine: every file a user can cat or echo to,
 * with the kernel's modes, contents and store semantics. This is the one path by which
 * the bus state changes (cf. drivers/base/bus.c bind_store, unbind_store,
 * drivers_probe_store, drivers_autoprobe_store; drivers/base/driver.c
 * driver_set_override; drivers/base/platform.c modalias/uevent).
 */
import type { Machine, Device, BusName, Driver } from '../base/machine.js';
import { BUSES, findGroup } from '../base/machine.js';
import { KernelError, type Reason } from '../base/errors.js';
import { deviceDriverAttach, deviceReleaseDriver, deviceAttach, driverMatchDevice } from '../base/dd.js';
import { hasVfioNode } from '../iommu/group.js';
import { type VDir, type VNode, dir, lazyDir, entries, ro, wo, rw, link, PAGE_SIZE } from './vfs.js';

/** sysfs_streq: equal, allowing one trailing newline on the written side; the C string ends at NUL. */
export function sysfsStreq(written: string, name: string): boolean {
  const nul = written.indexOf('\0');
  const w = nul >= 0 ? written.slice(0, nul) : written;
  return w === name || w === name + '\n';
}

function cstr(buf: string): string {
  const nul = buf.indexOf('\0');
  return nul >= 0 ? buf.slice(0, nul) : buf;
}

/** OF modalias: of:N<name>T<type>C<compat>… (spaces in compatibles become '_'). */
export function ofModalias(m: Machine, dev: Device): string {
  if (dev.bus === 'amba') return `amba:d${(dev.periphid ?? 0).toString(16).toUpperCase().padStart(8, '0')}`;
  const t = dev.of.type ?? (m.options.legacyMessages ? '<NULL>' : '(null)');
  return `of:N${dev.of.name}T${t}` + dev.of.compatible.map((c) => 'C' + c.replace(/ /g, '_')).join('');
}

/** driver_set_override (drivers/base/driver.c) */
export function driverSetOverride(dev: Device, buf: string): number {
  const count = buf.length;
  if (count >= PAGE_SIZE - 1) throw new KernelError('EINVAL', { hint: `driver_override takes a driver name (at most ${PAGE_SIZE - 2} bytes)` });
  const s = cstr(buf);
  if (s.length === 0) {
    dev.driverOverride = null;
    return count;
  }
  const nl = s.indexOf('\n');
  const v = nl >= 0 ? s.slice(0, nl) : s;
  dev.driverOverride = nl === 0 ? null : v;
  return count;
}

export function deviceDir(dev: Device): string {
  return `${dev.parentDir}/${dev.name}`;
}

function uevent(m: Machine, dev: Device): string {
  const lines: string[] = [];
  if (dev.driver) lines.push(`DRIVER=${dev.driver}`);
  lines.push(`OF_NAME=${dev.of.name}`, `OF_FULLNAME=${dev.of.fullName}`);
  if (dev.of.type) lines.push(`OF_TYPE=${dev.of.type}`);
  dev.of.compatible.forEach((c, i) => lines.push(`OF_COMPATIBLE_${i}=${c}`));
  lines.push(`OF_COMPATIBLE_N=${dev.of.compatible.length}`);
  dev.of.aliases.forEach((a, i) => lines.push(`OF_ALIAS_${i}=${a}`));
  if (dev.bus === 'amba') lines.push(`AMBA_ID=${(dev.periphid ?? 0).toString(16).padStart(8, '0')}`);
  lines.push(`MODALIAS=${ofModalias(m, dev)}`);
  return lines.join('\n') + '\n';
}

/** What unbind does to a device whose VFIO fd is open: the writer sleeps (vfio_unregister_group_dev). */
export function blockedUnbind(m: Machine, dev: Device): KernelError {
  const holders = m.owners.filter((o) => o.alive && o.devices.includes(dev.name));
  const who = holders.map((o) => `'${o.name}' (pid ${o.pid})`).join(', ') || 'a user-space owner';
  const first = holders[0]?.name ?? 'OWNER';
  return new KernelError('EWOULDBLOCK', {
    message: `write would block: ${dev.name} is open by ${who}; the kernel waits (uninterruptibly after a signal) until the device is released, and vfio-platform has no way to ask the owner to let go`,
    hint: `nothing was changed; release it first: vfioctl close ${dev.name} --owner ${first}   (or end the owner: vfioctl kill ${first})`,
  });
}

function deviceNode(m: Machine, dev: Device): VDir {
  return dir(() => {
    const e = entries<VNode | (() => VNode)>({
      driver_override: rw(
        () => `${dev.driverOverride ?? '(null)'}\n`,
        (buf) => driverSetOverride(dev, buf),
      ),
      modalias: ro(() => ofModalias(m, dev) + '\n'),
      uevent: rw(() => uevent(m, dev), (buf) => buf.length),
      subsystem: link(`/sys/bus/${dev.bus}`),
    });
    if (dev.driver) e['driver'] = link(`/sys/bus/${dev.bus}/drivers/${dev.driver}`);
    if (dev.iommuGroup !== null) e['iommu_group'] = link(`/sys/kernel/iommu_groups/${dev.iommuGroup}`);
    if (dev.bus === 'amba') {
      e['id'] = ro(() => `${(dev.periphid ?? 0).toString(16).padStart(8, '0')}\n`);
      e['resource'] = ro(() => {
        const r = dev.regions[0];
        if (!r) return '0x0000000000000000\t0x0000000000000000\t0x0000000000000000\n';
        const s = BigInt(r.start);
        const end = s + BigInt(r.size) - 1n;
        return `0x${s.toString(16).padStart(16, '0')}\t0x${end.toString(16).padStart(16, '0')}\t0x0000000000000200\n`;
      });
    }
    if (dev.vfio) e['vfio-dev'] = dir(() => ({ [`vfio${dev.vfio!.index}`]: dir(() => ({ dev: ro(() => `511:${dev.vfio!.index}\n`) })) }));
    return e;
  });
}

function driverNode(m: Machine, drv: Driver): VDir {
  return dir(() => {
    const e = entries<VNode | (() => VNode)>({
      bind: wo((buf) => bindStore(m, drv, buf)),
      unbind: wo((buf) => unbindStore(m, drv, buf)),
      uevent: wo((buf) => buf.length),
    });
    if (drv.module) e['module'] = link(`/sys/module/${drv.module}`);
    for (const d of m.devices) if (d.bus === drv.bus && d.driver === drv.name) e[d.name] = link(deviceDir(d));
    return e;
  });
}

/** bind_store */
export function bindStore(m: Machine, drv: Driver, buf: string): number {
  const dev = m.devices.find((d) => d.bus === drv.bus && sysfsStreq(buf, d.name));
  if (!dev || !driverMatchDevice(drv, dev)) throw new KernelError('ENODEV', { hint: bindHint(drv, dev, buf) });
  const err = deviceDriverAttach(m, drv, dev);
  if (err !== null) throw new KernelError(err as KernelError['code'], { hint: probeHint(m, dev, drv, err) });
  return buf.length;
}

/** unbind_store */
export function unbindStore(m: Machine, drv: Driver, buf: string): number {
  const dev = m.devices.find((d) => d.bus === drv.bus && sysfsStreq(buf, d.name));
  if (!dev || dev.driver !== drv.name) {
    let hint: string;
    if (!dev) hint = `no ${drv.bus} device is named ${JSON.stringify(cstr(buf).replace(/\n$/, ''))}`;
    else if (dev.driver === null) hint = `${dev.name} is not bound to any driver`;
    else hint = `${dev.name} is bound to ${dev.driver}, not ${drv.name}: write to /sys/bus/${dev.bus}/drivers/${dev.driver}/unbind`;
    throw new KernelError('ENODEV', { hint });
  }
  if (dev.vfio && dev.vfio.openCount > 0) throw blockedUnbind(m, dev);
  deviceReleaseDriver(m, dev);
  return buf.length;
}

/** drivers_probe_store */
export function driversProbeStore(m: Machine, bus: BusName, buf: string): number {
  const dev = m.devices.find((d) => d.bus === bus && sysfsStreq(buf, d.name));
  if (!dev) throw new KernelError('ENODEV', { hint: `no ${bus} device is named ${JSON.stringify(cstr(buf).replace(/\n$/, ''))}; list them with: vfioctl status` });
  deviceAttach(m, dev);
  return buf.length;
}

function bindHint(drv: Driver, dev: Device | undefined, buf: string): string {
  if (!dev) return `no ${drv.bus} device is named ${JSON.stringify(cstr(buf).replace(/\n$/, ''))}; list them with: vfioctl status`;
  if (dev.driverOverride !== null && dev.driverOverride !== drv.name) {
    return `driver_override of ${dev.name} is "${dev.driverOverride}", so only that driver matches; run: vfioctl override ${dev.name} ${drv.name}`;
  }
  if (drv.kind === 'vfio') return `${drv.name} has no match table: it binds only devices whose driver_override names it; run: vfioctl override ${dev.name} ${drv.name}`;
  return `${drv.name} does not match ${dev.name} (compatible ${dev.of.compatible.join(', ') || 'none'}); set driver_override first: vfioctl override ${dev.name} ${drv.name}`;
}

/**
 * What to do about a failed probe. `vfioPlatformLoaded` says whether the user's machine has
 * the module loaded (a sequence that is thrown away may have loaded it only in passing).
 */
export function probeHint(m: Machine, dev: Device, drv: Driver, err: string, vfioPlatformLoaded = m.modules.some((x) => x.name === 'vfio_platform')): string | undefined {
  if (err === 'EBUSY' && dev.driver !== null) {
    return `${dev.name} is already bound to ${dev.driver}; unbind it first: vfioctl unbind ${dev.name}`;
  }
  if (err === 'EBUSY' && dev.iommuGroup !== null) {
    const g = findGroup(m, dev.iommuGroup);
    if (g?.owner) return `IOMMU group ${g.id} is owned by user space (${g.owner}); a kernel DMA driver cannot probe until it is released`;
  }
  if (err === 'ENOENT' && drv.kind === 'vfio' && m.options.genericResetWhatIf && dev.resets.some((r) => r.sharedWith.length > 0)) {
    return `the generic reset-controller what-if refuses ${dev.name}: its reset line is shared with ${dev.resets.flatMap((r) => r.sharedWith).join(', ')}, so asserting it would reset those blocks too`;
  }
  if (err === 'ENOENT' && drv.kind === 'vfio') {
    return `no reset handler for "${dev.of.compatible[0] ?? ''}"; vfio-platform requires one unless loaded with reset_required=0: ${vfioPlatformLoaded ? 'vfioctl rmmod vfio-platform && ' : ''}vfioctl modprobe vfio-platform reset_required=0`;
  }
  if (err === 'EINVAL' && drv.kind === 'vfio' && dev.iommuGroup === null) {
    return `${dev.name} is in no IOMMU group (its node has no "iommus"); VFIO can only give user space a device an IOMMU isolates`;
  }
  return undefined;
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
    devices: dir(() => Object.fromEntries(m.devices.filter((d) => d.bus === bus).map((d) => [d.name, () => link(deviceDir(d))]))),
    drivers: dir(() => Object.fromEntries(m.drivers.filter((d) => d.bus === bus).map((d) => [d.name, () => driverNode(m, d)]))),
    drivers_autoprobe: rw(
      () => (m.buses[bus].autoprobe ? '1\n' : '0\n'),
      (buf) => {
        m.buses[bus].autoprobe = buf[0] !== '0';
        return buf.length;
      },
    ),
    drivers_probe: wo((buf) => driversProbeStore(m, bus, buf)),
    uevent: wo((buf) => buf.length),
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
  const uevent = rw(() => '', (b) => b.length);
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
      refcnt: ro(() => `${mod.holders.filter((h) => h.includes(':')).length}\n`),
      holders: dir(() => Object.fromEntries(mod.holders.filter((h) => !h.includes(':')).map((h) => [h, link(`/sys/module/${h}`)]))),
      uevent: wo((b) => b.length),
    });
    const params = Object.keys(mod.params);
    if (params.length) e['parameters'] = dir(() => Object.fromEntries(params.map((p) => [p, ro(() => `${mod.params[p]}\n`)])));
    const drvs = m.drivers.filter((d) => d.module === name);
    if (drvs.length) e['drivers'] = dir(() => Object.fromEntries(drvs.map((d) => [`${d.bus}:${d.name}`, link(`/sys/bus/${d.bus}/drivers/${d.name}`)])));
    return e;
  });
}

const MSI_REGION = '0x0000000008000000 0x00000000080fffff msi\n';

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
                  reserved_regions: ro(() => MSI_REGION),
                  type: rw(() => `${g.type}\n`, (buf) => groupTypeStore(m, g.id, buf)),
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
          for (const g of m.groups) if (hasVfioNode(m, g)) e[String(g.id)] = { kind: 'chr', mode: 0o600, rdev: `511:${g.id}` };
        } else delete e['vfio'];
        return e;
      }),
    })),
  }));
}

/** iommu_group_store_type: only while no member has a driver. */
function groupTypeStore(m: Machine, id: number, buf: string): number {
  const g = findGroup(m, id)!;
  const v = cstr(buf).replace(/\n$/, '');
  const types: Record<string, string> = { DMA: 'DMA', 'DMA-FQ': 'DMA-FQ', identity: 'identity', auto: 'DMA' };
  const t = Object.hasOwn(types, v) ? types[v] : undefined;
  if (t === undefined) throw new KernelError('EINVAL', { hint: 'valid types: DMA, DMA-FQ, identity, auto' });
  if (g.devices.some((n) => m.devices.find((d) => d.name === n)?.driver !== null)) {
    throw new KernelError('EBUSY', { hint: 'unbind every device of the group before changing its domain type' });
  }
  g.type = t;
  return buf.length;
}
