/**
 * Lesson c, groups (tree: default): IOMMU group 2 (fff60000.crypto and fff61000.rng) and
 * its viability, and a host driver that cannot come back while user space owns the group.
 */
import type { Scenario } from '../scenario.js';
import { findGroup } from '../../base/machine.js';
import { isViable, viabilityReason } from '../../iommu/group.js';
import { dev, driverOf, openCount, ownerAlive } from '../checks.js';
import { modprobeStep, MISSING_MODULE } from '../steps.js';

const GROUP2 = 2;
export const groupsLesson: Scenario = {
  name: 'groups',
  letter: 'c',
  title: 'IOMMU groups and viability',
  tree: 'default',
  intro:
    'fff60000.crypto and fff61000.rng sit behind the same IOMMU stream, so they share IOMMU group 2. The group, not the device, is what ' +
    'user space owns: it is usable only when every device in it is unbound or bound to a VFIO driver.',
  steps: [
    { ...modprobeStep(), keep: 3 },
    {
      goal: 'Give fff60000.crypto to vfio-platform',
      why: 'crypto has a reset module, so it binds; but binding one device of a group does not make the group usable',
      hint: 'override, unbind, probe, or the passthrough command that does all three',
      commands: ['passthrough fff60000.crypto'],
      after: ['groups'],
      done: (m) => driverOf(m, 'fff60000.crypto') === 'vfio-platform',
      keep: 2,
      refusal: MISSING_MODULE,
    },
    {
      goal: 'Make group 2 viable: take fff61000.rng away from its host driver',
      why: 'opening /dev/vfio/2 fails with EPERM while acme-rng drives the rng: user space would control DMA for a device a kernel driver uses',
      hint: 'the rng has no reset module, so it cannot go to vfio-platform: leaving it unbound is enough (override it first, so nothing rebinds it)',
      before: ['open fff60000.crypto --owner app'],
      commands: ['override fff61000.rng vfio-platform', 'unbind fff61000.rng'],
      after: ['groups'],
      done: (m) => {
        const g = findGroup(m, GROUP2);
        return !!g && isViable(m, g);
      },
      keep: 1,
      notYet: (m) => {
        const g = findGroup(m, GROUP2);
        const why = g && viabilityReason(m, g);
        return why ? `group 2 is not viable yet: ${why}` : null;
      },
      refusal: (r, m) => {
        if (r.code !== 'EPERM' || !r.path?.startsWith('/dev/vfio/')) return null;
        const g = findGroup(m, GROUP2);
        return `that is the point: group 2 is not viable (${(g && viabilityReason(m, g)) ?? 'a member has a host driver'}), so VFIO_GROUP_SET_CONTAINER refused. Deal with the rng first`;
      },
    },
    {
      goal: 'Open fff60000.crypto as "app"',
      why: 'now every member of group 2 is unbound or on vfio-platform, so the group can be attached to a container',
      hint: 'open with --owner app',
      commands: ['open fff60000.crypto --owner app'],
      done: (m) => ownerAlive(m, 'app', 'fff60000.crypto'),
      keep: 1,
    },
    {
      goal: 'Clear fff61000.rng\'s override while "app" owns the group',
      why: 'acme-rng could match the rng again, but a kernel DMA driver must use the group\'s default domain: while user space owns the group, dma_configure refuses it before acme-rng\'s probe runs (bind gets EBUSY, drivers_probe EINVAL, and nothing is logged)',
      hint: 'clear the rng\'s override (do not probe yet: the kernel would refuse)',
      commands: ['override fff61000.rng --clear'],
      done: (m) => dev(m, 'fff61000.rng')?.driverOverride === null && driverOf(m, 'fff61000.rng') === null,
    },
    {
      goal: 'Close fff60000.crypto',
      why: 'the last close releases the group: the kernel owns its DMA again',
      hint: 'the opposite of open',
      commands: ['close fff60000.crypto'],
      done: (m) => openCount(m, 'fff60000.crypto') === 0,
    },
    {
      goal: 'Now probe fff61000.rng again',
      why: 'with no user-space owner, acme-rng can claim the default domain, and group 2 is not viable any more',
      hint: 'the same probe as before',
      commands: ['probe fff61000.rng'],
      after: ['groups'],
      done: (m) => driverOf(m, 'fff61000.rng') === 'acme-rng',
    },
  ],
  outro: 'Viability is a property of the group: every device in it must be unbound or on a VFIO driver before user space may own it, and a host driver cannot come back while it does.',
};
