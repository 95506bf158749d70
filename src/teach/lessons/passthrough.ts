/**
 * Lesson a, passthrough (tree: default): the classic override → unbind → probe on
 * fff51000.ethernet, which has a reset module, an open and a close, and the way back.
 */
import type { Scenario } from '../scenario.js';
import { dev, driverOf, openCount, ownerAlive } from '../checks.js';
import { modprobeStep, overrideStep, unbindStep, probeStep, unboundWithoutOverride, OVERRIDE_FIRST } from '../steps.js';

export const passthroughLesson: Scenario = {
  name: 'passthrough',
  letter: 'a',
  title: 'Classic passthrough of a device with a reset module, and the way back',
  tree: 'default',
  intro:
    'fff51000.ethernet is a Calxeda xgmac, bound at boot to its host driver calxedaxgmac. vfio-platform has a reset module for it ' +
    '(vfio_platform_calxedaxgmac), so it can be handed to user space safely. You will do it step by step, open it as a user-space ' +
    'program would, and give it back to the host driver.',
  steps: [
    { ...modprobeStep(), keep: 4 },
    { ...overrideStep('fff51000.ethernet'), keep: 2, aside: OVERRIDE_FIRST('calxedaxgmac') },
    { ...unbindStep('fff51000.ethernet', 'calxedaxgmac'), keep: 1, aside: OVERRIDE_FIRST('calxedaxgmac') },
    { ...probeStep('fff51000.ethernet'), keep: 2, after: ['groups', 'info fff51000.ethernet'] },
    {
      goal: 'Open the device as the user-space program "qemu"',
      why: 'the kernel resets the device on first open (the reset module makes that possible), so the owner starts from a quiet device',
      hint: 'a simulated program opens container, group and device fd; the owner name is an option',
      commands: ['open fff51000.ethernet --owner qemu'],
      done: (m) => ownerAlive(m, 'qemu', 'fff51000.ethernet'),
      refusal: (r) => (r.code === 'ENODEV' && (r.command === 'open' || r.path?.startsWith('/dev/vfio')) ? 'only a device bound to vfio-platform has a VFIO device fd: finish the probe step first' : null),
    },
    {
      goal: 'Close it again',
      why: 'the last close resets the device too, so the next owner (or the host driver) gets it quiet',
      hint: 'the opposite of open',
      commands: ['close fff51000.ethernet'],
      done: (m) => openCount(m, 'fff51000.ethernet') === 0,
    },
    {
      goal: 'The way back, 1/3: clear driver_override',
      why: 'while the override names vfio-platform, the host driver can never match the device again',
      hint: 'a lone newline clears it; an empty write (echo -n "") changes nothing',
      commands: ['override fff51000.ethernet --clear'],
      done: (m) => dev(m, 'fff51000.ethernet')?.driverOverride === null,
      keep: 2,
      notYet: (m) => {
        const o = dev(m, 'fff51000.ethernet')?.driverOverride;
        return o ? `driver_override is still "${o}": a zero-length write (echo -n "" > driver_override) is ignored by the kernel; echo's newline is what clears it (vfioctl override fff51000.ethernet --clear)` : null;
      },
    },
    {
      goal: 'The way back, 2/3: unbind it from vfio-platform',
      why: 'clearing the override never unbinds either: vfio-platform keeps the device until you unbind it',
      hint: 'same unbind as before, now from the other driver',
      commands: ['unbind fff51000.ethernet'],
      done: (m) => driverOf(m, 'fff51000.ethernet') !== 'vfio-platform',
      keep: 1,
      refusal: (r) => (r.code === 'EWOULDBLOCK' ? 'the device is still open: unbinding an open device blocks until its owner lets go. Close it first' : null),
    },
    {
      goal: 'The way back, 3/3: probe it so that calxedaxgmac binds again',
      why: 'with no override, the bus matches by compatible string and the host driver takes the device back',
      hint: 'the same drivers_probe as before',
      commands: ['probe fff51000.ethernet'],
      after: ['status'],
      done: (m) => driverOf(m, 'fff51000.ethernet') === 'calxedaxgmac',
      notYet: (m) =>
        dev(m, 'fff51000.ethernet')?.driverOverride ? 'driver_override is set again: clear it, or the host driver cannot match' : null,
    },
  ],
  watch: (m, step) => (step <= 2 ? unboundWithoutOverride(m, 'fff51000.ethernet', 'calxedaxgmac') : null),
  outro: 'That is the whole sequence: modprobe, override, unbind, probe, and back with clear, unbind, probe. `vfioctl passthrough` and `vfioctl restore` do the same in one command each.',
};
