/**
 * Lesson d, termination (tree: default): an owner killed with a reset function
 * (fff51000.ethernet) and without one (fff52000.dma), and what the next owner sees.
 */
import type { Scenario } from '../scenario.js';
import { driverOf, vfioLoaded, running, resetRequiredOff, ownerAlive, ownerGone } from '../checks.js';
import { modprobeStep, openAndStartStep, MISSING_MODULE } from '../steps.js';

export const terminationLesson: Scenario = {
  name: 'termination',
  letter: 'd',
  title: 'Abnormal termination, with and without a reset',
  tree: 'default',
  intro:
    'A user-space driver can die at any moment. The kernel then closes its fds, and the release path resets the device, if it can. ' +
    'First with fff51000.ethernet, which has a reset module; then with fff52000.dma, which has none.',
  steps: [
    { ...modprobeStep(), keep: 3 },
    {
      goal: 'Pass fff51000.ethernet through to vfio-platform',
      why: 'the whole sequence of lesson passthrough in one command',
      hint: 'vfioctl has a command that runs override, unbind and probe and checks the result',
      commands: ['passthrough fff51000.ethernet'],
      done: (m) => driverOf(m, 'fff51000.ethernet') === 'vfio-platform',
      keep: 1,
      refusal: MISSING_MODULE,
    },
    { ...openAndStartStep('fff51000.ethernet', 'vm1', 'a running device does DMA into the owner\'s IOVA window and raises interrupts'), goal: 'Open it as "vm1" and start it' },
    {
      goal: 'Kill "vm1"',
      why: 'the kernel releases every fd of the dead process; the last close resets the device, so it stops',
      hint: 'kill takes the owner name',
      commands: ['kill vm1'],
      after: ['show fff51000.ethernet'],
      done: (m) => ownerGone(m, 'vm1') && !running(m, 'fff51000.ethernet'),
    },
    {
      goal: 'Reload vfio-platform with reset_required=0',
      why: 'so that it takes fff52000.dma, which has no reset function (rmmod also unbinds the ethernet, which nothing holds open)',
      hint: 'rmmod, then modprobe with reset_required=0',
      commands: ['rmmod vfio-platform', 'modprobe vfio-platform reset_required=0'],
      done: (m) => resetRequiredOff(m),
      keep: 2,
      notYet: (m) => (vfioLoaded(m) ? 'vfio-platform is loaded with reset_required=Y: rmmod it first, parameters are read at load time' : null),
    },
    {
      goal: 'Pass fff52000.dma through, open it as "vm2" and start it',
      why: 'the same owner life as before, on a device nothing can reset',
      hint: 'passthrough, open --owner vm2, start',
      commands: ['passthrough fff52000.dma', 'open fff52000.dma --owner vm2', 'start fff52000.dma'],
      done: (m) => ownerAlive(m, 'vm2', 'fff52000.dma') && running(m, 'fff52000.dma'),
    },
    {
      goal: 'Kill "vm2"',
      why: 'the release path has no reset to call: the device keeps running, its DMA now hits an unmapped IOVA',
      hint: 'kill takes the owner name',
      commands: ['kill vm2'],
      done: (m) => ownerGone(m, 'vm2') && running(m, 'fff52000.dma'),
    },
    {
      goal: 'Open fff52000.dma as the next owner, "vm3"',
      why: 'time passes: the orphaned DMA faults in the IOMMU, and the IRQs it raised are waiting for whoever opens the device next',
      hint: 'open with --owner vm3, then read the kernel log',
      commands: ['open fff52000.dma --owner vm3'],
      after: ['dmesg --level 3'],
      done: (m) => ownerAlive(m, 'vm3', 'fff52000.dma'),
    },
    {
      goal: 'As "vm3", stop the device and close it',
      why: 'with no reset function, every new owner has to quiesce the device itself before trusting anything it sees',
      hint: 'stop, then close',
      commands: ['stop fff52000.dma', 'close fff52000.dma'],
      done: (m) => !ownerAlive(m, 'vm3', 'fff52000.dma') && !running(m, 'fff52000.dma'),
      notYet: (m) => (running(m, 'fff52000.dma') ? 'closed while running: with no reset function the close did not stop it; open it again, stop it, close it' : null),
    },
  ],
  outro: 'With a reset function, abnormal termination is harmless: the release path quiesces the device. Without one, the dead owner\'s DMA faults and its interrupts reach the next owner.',
};
