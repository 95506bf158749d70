/**
 * Model-free invariants over random operation sequences: override set/clear, unbind,
 * bind --driver X, probe, modprobe/rmmod vfio-platform (reset_required 0/1),
 * drivers_autoprobe, open/close/kill/start/stop/reset by owners, policy generic-reset,
 * passthrough/restore and time passing. After every step:
 *
 *  - a device has at most one driver, and its `driver` link (read through the sysfs
 *    VFS), the driver directories' device links and the machine agree;
 *  - IOMMU group membership agrees three ways (group lists, device fields, sysfs);
 *  - viability matches the bindings, /dev/vfio/<N> exists exactly for groups with a
 *    member on a VFIO driver, and a group held by user space stays viable;
 *  - a device is open only while bound to a VFIO driver; open counts equal the
 *    owners' fds; an open device pins its VFIO module;
 *  - save + load of the state is the identity.
 *
 * One property drives the domain functions directly (many runs); a smaller one drives
 * the CLI in process and also checks that every refused command (exit ≠ 0) leaves the
 * state file byte-for-byte unchanged. VFIOCTL_STRESS=1 raises the run counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Machine } from '../src/base/machine.js';
import { findDriver } from '../src/base/machine.js';
import { KernelError, UsageError } from '../src/base/errors.js';
import { modprobe, rmmod } from '../src/base/module.js';
import { isViable } from '../src/iommu/group.js';
import { sysRoot } from '../src/sysfs/tree.js';
import { resolve, vlist } from '../src/sysfs/vfs.js';
import { Sys } from '../src/cli/sys.js';
import { writeOverride } from '../src/cli/commands/bind/override.js';
import { writeUnbind } from '../src/cli/commands/bind/unbind.js';
import { writeProbe } from '../src/cli/commands/bind/probe.js';
import { writeBind } from '../src/cli/commands/bind/bind.js';

/** the binding writes of the commands, on an in-memory machine */
const binding = {
  override: (m: Machine, sys: Sys, dev: string, driver: string | null) => writeOverride({ m, sys, path: '' }, dev, driver),
  unbind: (m: Machine, sys: Sys, dev: string) => writeUnbind({ m, sys, path: '' }, dev),
  probe: (m: Machine, sys: Sys, dev: string) => writeProbe({ m, sys, path: '' }, dev),
  bind: (m: Machine, sys: Sys, dev: string, driver: string) => writeBind({ m, sys, path: '' }, dev, driver),
};
import { lookupDevice } from '../src/cli/devices.js';
import { vfioOpen, vfioClose, killOwner, startDevice, stopDevice, resetIoctl, advance } from '../src/userspace/owner.js';
import { tick } from '../src/klog/klog.js';
import { readState } from '../src/state/store.js';
import { bootTree, run, stateBytes, tempState } from './helpers.js';
import { assertRefusedState } from './refuse.js';
import { roundTrip } from './roundtrip.js';

const STRESS = process.env['VFIOCTL_STRESS'] === '1';

// ---- the operations ----

const DEVICES = [
  'fff51000.ethernet', 'fff52000.dma', 'fff60000.crypto', 'fff61000.rng', 'fff70000.watchdog',
  'fff80000.sata', 'fff81000.pwm', 'fff82000.pwm', 'fff00000.iommu',
];
const DRIVERS = ['vfio-platform', 'calxedaxgmac', 'acme-crypto', 'acme-rng', 'acme-dma', 'no-such-driver'];
const OWNERS = ['qemu', 'dpdk'];

type Op =
  | { op: 'override'; dev: string; driver: string | null }
  | { op: 'unbind' | 'probe' | 'passthrough' | 'restore'; dev: string }
  | { op: 'bind'; dev: string; driver: string }
  | { op: 'modprobe'; resetRequired: '0' | '1' | null }
  | { op: 'rmmod' }
  | { op: 'autoprobe'; on: boolean }
  | { op: 'open'; dev: string; owner: string }
  | { op: 'close' | 'start' | 'stop' | 'reset'; dev: string; owner: string | null }
  | { op: 'kill'; owner: string }
  | { op: 'policy'; on: boolean };

const owner = fc.constantFrom(...OWNERS);

/** Operations on a few devices (a run that touches all nine rarely gets one of them all the way to an open fd). */
function opsOn(devs: string[]): fc.Arbitrary<Op> {
  const dev = fc.constantFrom(...devs);
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant('override' as const), dev, driver: fc.option(fc.constantFrom(...DRIVERS), { nil: null, freq: 4 }) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constantFrom('unbind' as const, 'probe' as const), dev }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constantFrom('passthrough' as const, 'passthrough' as const, 'restore' as const), dev }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('bind' as const), dev, driver: fc.constantFrom(...DRIVERS) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('modprobe' as const), resetRequired: fc.constantFrom('0' as const, '0' as const, '1' as const, null) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('rmmod' as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('autoprobe' as const), on: fc.boolean() }) },
    { weight: 5, arbitrary: fc.record({ op: fc.constant('open' as const), dev, owner }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constantFrom('close' as const, 'start' as const, 'stop' as const, 'reset' as const), dev, owner: fc.option(owner, { nil: null }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('kill' as const), owner }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('policy' as const), on: fc.boolean() }) },
  );
}

/**
 * A sequence on one to three devices, often after a prefix that gets the first one to
 * vfio-platform and open, so the later operations meet bound, open and running devices.
 */
function opSequence(maxLength: number): fc.Arbitrary<Op[]> {
  return fc.shuffledSubarray(DEVICES, { minLength: 1, maxLength: 3 }).chain((devs) => {
    const d = devs[0]!;
    const prefixes: Op[][] = [
      [],
      [{ op: 'modprobe', resetRequired: '0' }],
      [{ op: 'modprobe', resetRequired: '0' }, { op: 'passthrough', dev: d }],
      [{ op: 'modprobe', resetRequired: '0' }, { op: 'passthrough', dev: d }, { op: 'open', dev: d, owner: 'qemu' }, { op: 'start', dev: d, owner: null }],
    ];
    return fc.tuple(fc.constantFrom(...prefixes), fc.array(opsOn(devs), { minLength: 1, maxLength })).map(([p, ops]) => [...p, ...ops]);
  });
}

/** The same operation as vfioctl arguments. */
function argv(o: Op): string[] {
  switch (o.op) {
    case 'override': return o.driver === null ? ['override', o.dev, '--clear'] : ['override', o.dev, o.driver];
    case 'bind': return ['bind', o.dev, '--driver', o.driver];
    case 'modprobe': return ['modprobe', 'vfio-platform', ...(o.resetRequired === null ? [] : [`reset_required=${o.resetRequired}`])];
    case 'rmmod': return ['rmmod', 'vfio-platform'];
    case 'autoprobe': return ['sysfs', 'write', '/sys/bus/platform/drivers_autoprobe', o.on ? '1' : '0'];
    case 'open': return ['open', o.dev, '--owner', o.owner];
    case 'close': case 'start': case 'stop': case 'reset': return [o.op, o.dev, ...(o.owner === null ? [] : ['--owner', o.owner])];
    case 'kill': return ['kill', o.owner];
    case 'policy': return ['policy', 'generic-reset', o.on ? 'on' : 'off'];
    default: return [o.op, o.dev];
  }
}

/** Apply one operation with the domain functions, as the command would (throws KernelError when refused). */
function apply(m: Machine, o: Op): void {
  const sys = new Sys(m);
  switch (o.op) {
    case 'override': binding.override(m, sys, o.dev, o.driver); return;
    case 'unbind': binding.unbind(m, sys, o.dev); return;
    case 'probe': binding.probe(m, sys, o.dev); return;
    case 'bind': binding.bind(m, sys, o.dev, o.driver); return;
    case 'passthrough': case 'restore': {
      // the sequence commands as their steps (all-or-nothing like the CLI: the caller discards a refused copy)
      const d = lookupDevice(m, o.dev);
      if (o.op === 'passthrough') {
        if (!m.modules.some((x) => x.name === 'vfio_platform')) modprobe(m, 'vfio-platform');
        binding.override(m, sys, o.dev, 'vfio-platform');
        if (d.driver && d.driver !== 'vfio-platform') binding.unbind(m, sys, o.dev);
        binding.probe(m, sys, o.dev);
        if (d.driver !== 'vfio-platform') throw new KernelError('ENODEV', { op: 'exec', message: 'passthrough: the probe failed' });
      } else {
        binding.override(m, sys, o.dev, null);
        if (d.driver) binding.unbind(m, sys, o.dev);
        binding.probe(m, sys, o.dev);
      }
      return;
    }
    case 'modprobe': modprobe(m, 'vfio-platform', o.resetRequired === null ? {} : { reset_required: o.resetRequired }); return;
    case 'rmmod': rmmod(m, 'vfio-platform'); return;
    case 'autoprobe': sys.write('/sys/bus/platform/drivers_autoprobe', o.on ? '1' : '0', 'test'); return;
    case 'open': vfioOpen(m, sys, lookupDevice(m, o.dev), o.owner); return;
    case 'close': vfioClose(m, sys, lookupDevice(m, o.dev), o.owner ?? undefined); return;
    case 'start': startDevice(m, sys, lookupDevice(m, o.dev), o.owner ?? undefined); return;
    case 'stop': stopDevice(m, sys, lookupDevice(m, o.dev), o.owner ?? undefined); return;
    case 'reset': resetIoctl(m, sys, lookupDevice(m, o.dev), o.owner ?? undefined); return;
    case 'kill': killOwner(m, sys, o.owner); return;
    case 'policy': m.options.genericResetWhatIf = o.on; return;
  }
}

// ---- the invariants ----

function linkTarget(root: ReturnType<typeof sysRoot>, p: string): string | null {
  try {
    const r = resolve(root, p, false, 'read');
    return r.node.kind === 'link' ? r.node.target : null;
  } catch (e) {
    if (e instanceof KernelError && e.code === 'ENOENT') return null;
    throw e;
  }
}

function names(root: ReturnType<typeof sysRoot>, p: string): string[] {
  return vlist(root, p).map((e) => e.name).sort();
}

function checkInvariants(m: Machine, where: string): void {
  const root = sysRoot(m);
  const msg = (s: string): string => `${where}: ${s}`;
  const vfioLoaded = m.modules.some((x) => x.name === 'vfio');

  // drivers: names unique per bus; each bound device's driver exists; links agree both ways
  const boundIn = new Map<string, string[]>();
  for (const drv of m.drivers) {
    assert.equal(m.drivers.filter((d) => d.bus === drv.bus && d.name === drv.name).length, 1, msg(`driver ${drv.name} registered twice`));
    const dir = `/sys/bus/${drv.bus}/drivers/${drv.name}`;
    const linked = vlist(root, dir).filter((e) => e.type === 'l' && e.name !== 'module').map((e) => e.name);
    const expected = m.devices.filter((d) => d.bus === drv.bus && d.driver === drv.name).map((d) => d.name);
    assert.deepEqual(linked.sort(), [...expected].sort(), msg(`${dir} lists ${linked.join(',')}; bound: ${expected.join(',')}`));
    for (const n of linked) boundIn.set(n, [...(boundIn.get(n) ?? []), drv.name]);
  }
  for (const d of m.devices) {
    assert.ok((boundIn.get(d.name) ?? []).length <= 1, msg(`${d.name} is in several driver directories: ${boundIn.get(d.name)?.join(', ')}`));
    const link = linkTarget(root, `/sys/bus/${d.bus}/devices/${d.name}/driver`);
    if (d.driver === null) assert.equal(link, null, msg(`${d.name} has no driver but a driver link ${link}`));
    else {
      assert.ok(findDriver(m, d.bus, d.driver), msg(`${d.name} is bound to unregistered driver ${d.driver}`));
      assert.equal(link, `/sys/bus/${d.bus}/drivers/${d.driver}`, msg(`${d.name} driver link`));
    }
    // VFIO state exists exactly while bound to a VFIO driver
    const onVfio = d.driver !== null && findDriver(m, d.bus, d.driver)?.kind === 'vfio';
    assert.equal(d.vfio !== null, onVfio, msg(`${d.name}: vfio state ${d.vfio !== null} but bound to ${d.driver}`));
    if (d.vfio) {
      assert.ok(d.vfio.openCount >= 0, msg(`${d.name} open count ${d.vfio.openCount}`));
      const fds = m.owners.reduce((n, o) => n + o.devices.filter((x) => x === d.name).length, 0);
      assert.equal(d.vfio.openCount, fds, msg(`${d.name}: open count ${d.vfio.openCount}, owner fds ${fds}`));
      if (d.vfio.openCount > 0) {
        const mod = m.modules.find((x) => x.name === (d.driver === 'vfio-amba' ? 'vfio_amba' : 'vfio_platform'));
        assert.ok(mod?.holders.includes(`fd:${d.name}`), msg(`open ${d.name} does not pin its module`));
      }
    } else {
      assert.ok(!m.owners.some((o) => o.devices.includes(d.name)), msg(`${d.name} is held open but not on a VFIO driver`));
    }
  }
  for (const mod of m.modules) {
    for (const h of mod.holders.filter((x) => x.startsWith('fd:'))) {
      const d = m.devices.find((x) => x.name === h.slice(3));
      assert.ok(d?.vfio && d.vfio.openCount > 0, msg(`${mod.name} is pinned by ${h}, which is not open`));
    }
  }

  // groups: sorted unique ids, membership three ways
  const ids = m.groups.map((g) => g.id);
  assert.deepEqual(ids, [...new Set(ids)].sort((a, b) => a - b), msg('group ids not unique and sorted'));
  const memberOf = new Map<string, number>();
  for (const g of m.groups) {
    for (const n of g.devices) {
      assert.ok(!memberOf.has(n), msg(`${n} is in groups ${memberOf.get(n)} and ${g.id}`));
      memberOf.set(n, g.id);
    }
    assert.deepEqual(names(root, `/sys/kernel/iommu_groups/${g.id}/devices`), [...g.devices].sort(), msg(`group ${g.id} sysfs members`));
    // viability = no member on a kernel DMA-API (host) driver
    const viable = g.devices.every((n) => {
      const d = m.devices.find((x) => x.name === n)!;
      return d.driver === null || findDriver(m, d.bus, d.driver)?.kind === 'vfio';
    });
    assert.equal(isViable(m, g), viable, msg(`group ${g.id} viability`));
    const node = vfioLoaded && g.devices.some((n) => m.devices.find((x) => x.name === n)?.vfio != null);
    let hasNode = true;
    try {
      resolve(root, `/dev/vfio/${g.id}`, false);
    } catch {
      hasNode = false;
    }
    assert.equal(hasNode, node, msg(`/dev/vfio/${g.id} exists: ${hasNode}, expected ${node}`));
    if (g.owner !== null) {
      const o = m.owners.find((x) => x.name === g.owner && x.alive);
      assert.ok(o, msg(`group ${g.id} is held by ${g.owner}, who is not a live owner`));
      assert.ok(o.groups.includes(g.id), msg(`owner ${g.owner} does not list group ${g.id}`));
      assert.ok(viable, msg(`group ${g.id} is held by user space but a host driver uses it`));
    }
  }
  for (const d of m.devices) {
    assert.equal(d.iommuGroup, memberOf.get(d.name) ?? null, msg(`${d.name}.iommuGroup`));
    const link = linkTarget(root, `/sys/bus/${d.bus}/devices/${d.name}/iommu_group`);
    assert.equal(link, d.iommuGroup === null ? null : `/sys/kernel/iommu_groups/${d.iommuGroup}`, msg(`${d.name} iommu_group link`));
  }
  for (const o of m.owners) {
    assert.ok(o.alive, msg(`dead owner ${o.name} kept`));
    for (const n of o.devices) {
      const d = m.devices.find((x) => x.name === n);
      assert.ok(d && d.iommuGroup !== null && o.groups.includes(d.iommuGroup), msg(`owner ${o.name} holds ${n} without its group`));
    }
  }
  assert.equal(new Set(m.owners.map((o) => o.name)).size, m.owners.length, msg('two live owners with one name'));

  // the state file form is exact
  assert.deepEqual(roundTrip(m), m, msg('save + load changed the machine'));
}

// ---- the properties ----

test('domain operations keep every invariant after every step', { timeout: 120_000 }, () => {
  const base = bootTree('default');
  checkInvariants(base, 'boot');
  let refused = 0;
  let done = 0;
  const applied = new Map<string, number>();
  fc.assert(
    fc.property(opSequence(30), (ops) => {
      let m = roundTrip(base);
      ops.forEach((o, i) => {
        // a command works on a fresh copy that is kept only if it succeeds (refused commands are not saved)
        const next = structuredClone(m);
        tick(next);
        advance(next);
        try {
          apply(next, o);
        } catch (e) {
          if (!(e instanceof KernelError || e instanceof UsageError)) throw e;
          refused++;
                    return;
        }
        done++;
        applied.set(o.op, (applied.get(o.op) ?? 0) + 1);
        m = next;
        checkInvariants(m, `step ${i + 1} ${JSON.stringify(o)}`);
      });
    }),
    { numRuns: STRESS ? 3_000 : 150 },
  );
  assert.ok(done > 0 && refused > 0, `${done} applied, ${refused} refused`);
  // the sequences reach the interesting states, not only refusals
  const n = (...ops: string[]): number => ops.reduce((a, op) => a + (applied.get(op) ?? 0), 0);
  for (const op of ['open', 'start', 'passthrough', 'rmmod']) assert.ok(n(op) > 0, `no successful ${op}: ${JSON.stringify([...applied])}`);
  assert.ok(n('close', 'kill', 'stop') > 0, `no successful close, kill or stop: ${JSON.stringify([...applied])}`);
  if (process.env['VFIOCTL_PROP_DEBUG']) console.log([...applied]);
});

test('CLI commands keep every invariant, and a refused command keeps only the kernel\'s side effects', { timeout: 120_000 }, async () => {
  let refusedCount = 0;
  await fc.assert(
    fc.asyncProperty(opSequence(14), async (ops) => {
      const s = tempState();
      const r0 = await run(s, '-q', 'load', 'default');
      assert.equal(r0.code, 0, r0.stderr);
      for (const [i, o] of ops.entries()) {
        const before = stateBytes(s);
        const r = await run(s, '-q', '--json', ...argv(o));
        assert.ok(r.code === 0 || r.code === 1, `${argv(o).join(' ')}: exit ${r.code} ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /\n\s+at /);
        if (r.code !== 0) {
          refusedCount++;
          // passthrough/restore are several writes: those the kernel took before the refusal stay (issue 11.2)
          assertRefusedState(`refused ${argv(o).join(' ')}`, r.code, s, before, { partial: o.op === 'passthrough' || o.op === 'restore' });
          checkInvariants(readState(s)!, `step ${i + 1} refused vfioctl ${argv(o).join(' ')}`);
          continue;
        }
        checkInvariants(readState(s)!, `step ${i + 1} vfioctl ${argv(o).join(' ')}`);
      }
    }),
    { numRuns: STRESS ? 300 : 12 },
  );
  assert.ok(refusedCount > 0);
});
