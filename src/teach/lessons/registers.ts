/**
 * Lesson g, registers (tree: xgmac-twins): the reset story at register level. Two xgmac
 * with the same registers, one with a reset module (fff50000.ethernet), one without
 * (fff60000.ethernet); their owner starts DMA into its mapped buffer and is killed, and
 * the next owners read the registers, receive (or not) a stale level interrupt, and find
 * their own freshly mapped buffer clean (or overwritten).
 */
import type { Machine } from '../../base/machine.js';
import type { Scenario } from '../scenario.js';
import { dev, driverOf, resetRequiredOff, running, ownerAlive, ownerGone } from '../checks.js';

const WITH = 'fff50000.ethernet';
const WITHOUT = 'fff60000.ethernet';

const owner = (m: Machine, name: string) => m.owners.find((o) => o.name === name && o.alive);
const eventfd = (m: Machine, name: string, ev: string): number => owner(m, name)?.eventfds?.[ev] ?? 0;
const dirtyMemory = (m: Machine, name: string): boolean => Object.keys(owner(m, name)?.dma?.memory ?? {}).length > 0;

export const registersLesson: Scenario = {
  name: 'registers',
  letter: 'g',
  title: 'The reset story at register level: DMA, a stale interrupt, the next owner\'s memory',
  tree: 'xgmac-twins',
  intro:
    `${WITH} and ${WITHOUT} are both xgmac, with the same registers. vfio-platform has a reset module for the first (calxeda,hb-xgmac); ` +
    `the second is a clone whose compatible no reset module knows. Their owner programs DMA into its mapped buffer and dies. ` +
    'Read the registers and the memory of the next owners to see what a reset module is for.',
  steps: [
    {
      goal: 'Load vfio-platform with reset_required=0',
      why: `${WITHOUT} has no reset function: with reset_required=1 (the default) vfio-platform refuses it with ENOENT`,
      hint: 'modprobe takes module parameters as name=value',
      commands: ['modprobe vfio-platform reset_required=0'],
      done: resetRequiredOff,
    },
    {
      goal: 'Pass both devices through to vfio-platform',
      why: 'override, unbind and probe for each: the same sequence as lesson passthrough',
      hint: 'vfioctl passthrough DEVICE, once per device',
      commands: [`passthrough ${WITH}`, `passthrough ${WITHOUT}`],
      done: (m) => driverOf(m, WITH) === 'vfio-platform' && driverOf(m, WITHOUT) === 'vfio-platform',
    },
    {
      goal: 'Open both as "vm1" and start them',
      why: 'start is what a driver does: an eventfd for each IRQ (VFIO_DEVICE_SET_IRQS), then register writes through the device fd: the DMA address, the interrupt enable, the TX/RX start bits',
      hint: 'open with --owner vm1, then start, for each device; --explain shows every pwrite',
      commands: [`open ${WITH} --owner vm1`, `start ${WITH}`, `open ${WITHOUT} --owner vm1`, `start ${WITHOUT}`],
      after: [`read ${WITH} 0 0xf18`, 'mem vm1 0x100000 0x20'],
      done: (m) => ownerAlive(m, 'vm1', WITH) && ownerAlive(m, 'vm1', WITHOUT) && running(m, WITH) && running(m, WITHOUT),
    },
    {
      goal: 'Kill "vm1"',
      why: 'the kernel closes the dead process\'s fds; the last close of each device calls its reset function, if there is one',
      hint: 'kill takes the owner name',
      commands: ['kill vm1'],
      done: (m) => ownerGone(m, 'vm1'),
    },
    {
      goal: `Open ${WITH} as "vm2" and read its DMA control register`,
      why: 'the reset module wrote 0 to DMA_INTR_ENA and cleared ST|SR and TE|RE: the engine is stopped and its interrupt line is quiet',
      hint: `open with --owner vm2, then read region 0 at offset 0xf18 (XGMAC_DMA_CONTROL)`,
      commands: [`open ${WITH} --owner vm2`, `read ${WITH} 0 0xf18`],
      after: [`irq ${WITH} 0 trigger --eventfd rx`, 'mem vm2 0x100000 0x20'],
      done: (m) => ownerAlive(m, 'vm2', WITH) && !running(m, WITH),
    },
    {
      goal: `Open ${WITHOUT} as "vm3" and set a trigger on its IRQ 0`,
      why: 'nothing reset it: DMA_CONTROL still has ST|SR, its status bits still assert the level interrupt, so the trigger fires the moment it is set, before vm3 has programmed anything',
      hint: `open with --owner vm3, then irq ${WITHOUT} 0 trigger --eventfd rx`,
      commands: [`open ${WITHOUT} --owner vm3`, `irq ${WITHOUT} 0 trigger --eventfd rx`],
      after: [`read ${WITHOUT} 0 0xf18`, 'mem vm3 0x100000 0x100'],
      done: (m) => ownerAlive(m, 'vm3', WITHOUT) && eventfd(m, 'vm3', 'rx') > 0,
      notYet: (m) => (ownerAlive(m, 'vm3', WITHOUT) ? 'open: now set the trigger (irq DEVICE 0 trigger --eventfd rx) and see what fires' : null),
    },
    {
      goal: `As "vm3", quiesce ${WITHOUT} by hand: stop it, clear its status, unmask its IRQ`,
      why: 'with no reset function the new owner must do what the reset module would have done before it can trust anything: and the buffer vm3 mapped already holds vm1\'s engine\'s records',
      hint: 'stop; write 0x10040 to region 0 offset 0xf14 (write 1 to clear RI|NIS); irq … unmask',
      commands: [`stop ${WITHOUT}`, `write ${WITHOUT} 0 0xf14 0x10040`, `irq ${WITHOUT} 0 unmask`],
      after: [`read ${WITHOUT} 0 0xf18`],
      done: (m) => !running(m, WITHOUT) && !(dev(m, WITHOUT)?.activity.masked[0] ?? true),
      notYet: (m) => (running(m, WITHOUT) ? 'still running: stop it first, then clear the status bits' : dev(m, WITHOUT)?.activity.masked[0] ? 'unmask IRQ 0 once the status is cleared (unmasking before that fires it again)' : null),
    },
  ],
  outro:
    `After ${WITH}'s reset its owner found the engine stopped, no interrupt and a clean buffer. ${WITHOUT} kept running: its next owner got a stale interrupt ` +
    'before it programmed anything and found another process\'s DMA in its freshly mapped memory, which is why vfio-platform requires a reset function by default.',
  watch: (m) => (dirtyMemory(m, 'vm2') ? `vm2's buffer has DMA records in it: ${WITH} was not reset?` : null),
};
