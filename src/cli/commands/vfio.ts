/** info, regions, irqs (VFIO info ioctls); open, close, kill, start, stop, reset, unmask; policy. */
import type { Out } from '../main.js';
import { withMachineLogged as withMachine } from '../runner.js';
import { lookupDevice } from '../devices.js';
import { KernelError, UsageError } from '../../base/errors.js';
import { deviceInfo, regionInfo, irqInfo } from '../../vfio/info.js';
import { vfioOpen, vfioClose, killOwner, startDevice, stopDevice, resetIoctl, unmaskIrq, fdOwner, withTransientFd } from '../../userspace/owner.js';
import type { Sys } from '../sys.js';
import { table, kernelLines } from '../output.js';
import { logSince } from '../../klog/klog.js';
import type { Device } from '../../base/machine.js';

const hexFlags = (n: number): string => '0x' + n.toString(16);

export async function infoCmd(o: Out, what: 'info' | 'regions' | 'irqs', name: string, ownerName?: string): Promise<void> {
  if (ownerName !== undefined && !/^[A-Za-z0-9._-]{1,32}$/.test(ownerName)) throw new UsageError(`bad owner name "${ownerName}"`, 'use 1-32 letters, digits, ".", "_" or "-"');
  await withMachine(o.ctx, o.g, 'write', ({ m, sys }) => {
    const dev = lookupDevice(m, name);
    const before = m.log.length;
    // through an owner's fd, or as a short-lived process of its own: a first open and a last close
    if (ownerName !== undefined) fdOwner(m, dev, ownerName);
    else {
      const holder = m.owners.find((x) => x.alive && x.devices.includes(dev.name));
      if (holder) {
        throw new KernelError('EBUSY', { op: 'open', path: `/dev/vfio/${dev.iommuGroup}`, reason: { kind: 'query-held', device: dev.name, owner: holder.name, pid: holder.pid } });
      }
    }
    const query = <T>(fn: () => T): T => (ownerName !== undefined ? fn() : withTransientFd(m, sys, dev, fn));
    const r = query(() => infoIoctls(what, dev, sys));
    const dmesg = logSince(m, before);
    o.emit(r.data, r.text + kernelLines(dmesg), sys.steps);
  });
}

function infoIoctls(what: 'info' | 'regions' | 'irqs', dev: Device, sys: Sys): { data: Record<string, unknown>; text: string } {
  const o = { emit: (data: Record<string, unknown>, text: string, _steps?: unknown): { data: Record<string, unknown>; text: string } => ({ data, text }) };
  {
    if (what === 'info') {
      const i = deviceInfo(dev);
      sys.record(`ioctl(device, VFIO_DEVICE_GET_INFO, {argsz=24}) → flags=${hexFlags(i.flags)} num_regions=${i.numRegions} num_irqs=${i.numIrqs}`, 'what kind of device, how many regions and IRQ indexes', 'ok');
      return o.emit(i, `${dev.name}: flags ${hexFlags(i.flags)} (${i.flagNames.join('|')})  regions ${i.numRegions}  irqs ${i.numIrqs}\n` +
        (i.flags & 0x1 ? '' : `  no RESET flag: no reset function, so VFIO_DEVICE_RESET fails with EINVAL and nothing quiesces the device between owners\n`), sys.steps);
    } else if (what === 'regions') {
      const r = regionInfo(dev);
      r.forEach((x) => sys.record(`ioctl(device, VFIO_DEVICE_GET_REGION_INFO, {argsz=32, index=${x.index}}) → offset=${x.offset} size=${x.size} flags=${hexFlags(x.flags)}`, 'where to pread/pwrite/mmap the region in the device fd', 'ok'));
      return o.emit(
        { regions: r.map(({ index, offset, size, flags, flagNames, start }) => ({ index, offset, size, flags, flagNames, start })) },
        r.length
          ? table([['index', 'offset', 'size', 'flags', 'names', 'phys'], ...r.map((x) => [String(x.index), x.offset, x.size, hexFlags(x.flags), x.flagNames.join('|'), x.start + (x.mmap ? '' : '  (not page-aligned: no mmap)')])])
          : `${dev.name}: no regions\n`,
        sys.steps,
      );
    } else {
      const q = irqInfo(dev);
      q.forEach((x) => sys.record(`ioctl(device, VFIO_DEVICE_GET_IRQ_INFO, {argsz=16, index=${x.index}}) → count=1 flags=${hexFlags(x.flags)}`, 'each platform IRQ is its own index with one vector', 'ok'));
      return o.emit(
        { irqs: q.map(({ index, count, flags, flagNames }) => ({ index, count, flags, flagNames })) },
        q.length
          ? table([['index', 'count', 'flags', 'names', 'trigger'], ...q.map((x) => [String(x.index), '1', hexFlags(x.flags), x.flagNames.join('|'), x.level ? 'level (automasked: unmask after each)' : 'edge'])])
          : `${dev.name}: no IRQs\n`,
        sys.steps,
      );
    }
  }
}

export async function ownerCmd(o: Out, what: 'open' | 'close' | 'start' | 'stop' | 'reset' | 'unmask', name: string, owner: string | undefined, index = 0): Promise<void> {
  if (owner !== undefined && !/^[A-Za-z0-9._-]{1,32}$/.test(owner)) throw new UsageError(`bad owner name "${owner}"`, 'use 1-32 letters, digits, ".", "_" or "-"');
  if (what === 'unmask' && !Number.isInteger(index)) throw new UsageError('IRQ index must be a number');
  await withMachine(o.ctx, o.g, 'write', ({ m, sys }) => {
    const dev = lookupDevice(m, name);
    const before = m.log.length;
    const lines: string[] = [];
    let data: Record<string, unknown> = { device: dev.name, action: what };
    if (what === 'open') {
      const r = vfioOpen(m, sys, dev, owner ?? 'vfio-user');
      data = { ...data, ...r };
      lines.push(`${dev.name}: opened by '${r.owner}' (pid ${r.pid}) through /dev/vfio/${r.group}${r.firstOpen ? (r.reset ? '; first open: device reset' : '; first open: NO reset function, device not reset') : '; already open: no reset'}`);
      if (r.stale) {
        const live = r.stale.irqs.flatMap((x, i) => (x ? [i] : []));
        lines.push(`STALE: the device was still ${r.stale.dmaRunning ? 'running' : 'signalling'}${r.stale.previousOwner ? ` as '${r.stale.previousOwner}' left it` : ''}: ${live.length ? `IRQ ${live.join(', ')} asserted or pending, firing the moment '${r.owner}' sets a trigger, before it has programmed anything` : 'no IRQ asserted'}${r.stale.dmaRunning ? ', and its DMA goes on into whatever is mapped at its address' : ''}`);
      }
    } else if (what === 'close') {
      const ow = vfioClose(m, sys, dev, owner);
      lines.push(`${dev.name}: closed by '${ow.name}'${dev.vfio?.openCount ? ` (${dev.vfio.openCount} fd(s) still open)` : ''}`);
    } else if (what === 'start') {
      const r = startDevice(m, sys, dev, owner);
      const ow = r.owner;
      if (r.staleFired.length) lines.push(`STALE: IRQ ${r.staleFired.join(', ')} fired the moment '${ow.name}' set its trigger, before it programmed the device (an interrupt left asserted or pending by a device nobody reset)`);
      lines.push(`${dev.name}: running for '${ow.name}': DMA into iova ${ow.iova.start}, IRQs firing`);
      data = { ...data, staleFired: r.staleFired, writes: r.writes };
    } else if (what === 'stop') {
      const ow = stopDevice(m, sys, dev, owner);
      lines.push(`${dev.name}: quiesced by '${ow.name}'`);
    } else if (what === 'reset') {
      resetIoctl(m, sys, dev, owner);
      lines.push(`${dev.name}: reset`);
    } else {
      unmaskIrq(m, sys, dev, owner, index);
      lines.push(`${dev.name}: IRQ ${index} unmasked`);
    }
    const dmesg = logSince(m, before);
    data = { ...data, activity: { running: dev.activity.running, dmaWrites: dev.activity.dmaWrites, dmaFaults: dev.activity.dmaFaults, irqsRaised: dev.activity.irqsRaised }, dmesg };
    o.emit(data, lines.map((l) => l + '\n').join('') + kernelLines(dmesg), sys.steps);
  });
}

export async function killCmd(o: Out, name: string): Promise<void> {
  await withMachine(o.ctx, o.g, 'write', ({ m, sys }) => {
    const before = m.log.length;
    const { owner, released } = killOwner(m, sys, name);
    const still = released.map((n) => m.devices.find((d) => d.name === n)!).filter((d) => d.activity.running);
    const dmesg = logSince(m, before);
    const lines = [`'${owner.name}' (pid ${owner.pid}) killed; the kernel released ${released.join(', ') || 'nothing'}`];
    for (const d of still) lines.push(`WARNING: ${d.name} is STILL RUNNING: ${d.vfio?.reset ? 'its reset function did not stop it (an injected fault: see vfioctl fault)' : 'no reset function quiesced it'}; its DMA now faults in the IOMMU and its IRQs wait for the next owner`);
    for (const n of released) if (!still.some((d) => d.name === n)) lines.push(`${n}: quiet (reset on release)`);
    o.emit({ owner: owner.name, pid: owner.pid, released, stillRunning: still.map((d) => d.name), dmesg }, lines.map((l) => l + '\n').join('') + kernelLines(dmesg), sys.steps);
  });
}

export async function policyCmd(o: Out, name: string, onoff: string): Promise<void> {
  if (name !== 'generic-reset' && name !== 'dma-exec') throw new UsageError(`unknown policy "${name}"`, 'known: generic-reset, dma-exec');
  if (onoff !== 'on' && onoff !== 'off') throw new UsageError('say on or off');
  if (name === 'dma-exec') {
    await withMachine(o.ctx, o.g, 'write', ({ m, sys }) => {
      sys.record('# (none on mainline Linux)', 'VFIO_DMA_MAP_FLAG_EXEC / VFIO_IOMMU_PROT_EXEC were in the 2014 ARM RFC only: mainline gave bit 2 of the map flags to VFIO_DMA_MAP_FLAG_VADDR');
      m.options.dmaExecWhatIf = onoff === 'on';
      o.emit(
        { policy: name, enabled: m.options.dmaExecWhatIf, inMainline: false },
        onoff === 'on'
          ? 'WHAT-IF (never merged): vfioctl map --exec now sets VFIO_DMA_MAP_FLAG_EXEC (1 << 2), mapped to IOMMU_EXEC, after checking the VFIO_IOMMU_PROT_EXEC extension, as the 2014 vfio-platform RFC proposed.\n' +
            'A later iteration inverted it to VFIO_DMA_MAP_FLAG_NOEXEC; neither was merged, and mainline uses bit 2 for VFIO_DMA_MAP_FLAG_VADDR.\n'
          : 'dma-exec what-if is off (mainline behaviour)\n',
        sys.steps,
      );
    });
    return;
  }
  await withMachine(o.ctx, o.g, 'write', ({ m, sys }) => {
    sys.record('# (none on mainline Linux)', 'the generic reset-controller path was never merged: only a kernel carrying that series could reset through "resets"');
    m.options.genericResetWhatIf = onoff === 'on';
    o.emit(
      { policy: name, enabled: m.options.genericResetWhatIf, inMainline: false },
      onoff === 'on'
        ? 'WHAT-IF (not in mainline Linux): vfio-platform may now reset a device through its "resets" line when it has exactly one that no other device uses.\n' +
          'This is Geert Uytterhoeven\'s 2018 series, never merged: the reset maintainer pointed out that even an "exclusive" reset control does not prove the wire is dedicated, so asserting it could reset other blocks. Shared lines are refused.\n'
        : 'generic reset-controller what-if is off (mainline behaviour)\n',
      sys.steps,
    );
  });
}
