/** `kill OWNER`: the owner dies abnormally; do_exit closes every fd and the release path resets what it held. */
import { defineCommand, word } from '../../command.js';
import { killOwner } from '../../../userspace/owner.js';
import { renderNotes } from './shared.js';

export interface KillData {
  owner: string;
  pid: number;
  released: string[];
  stillRunning: string[];
  notes: string[];
}

export default defineCommand({
  name: 'kill',
  group: 'owners',
  summary: 'the owner dies abnormally: the kernel releases every fd it held',
  example: 'vfioctl kill qemu',
  args: [{ name: 'owner', complete: 'owner' }],
  machine: 'write',
  options: (p) => ({ owner: word(p, 0) }),
  run(_rc, o: { owner: string }, { m, sys }): KillData {
    const { owner, released } = killOwner(m, sys, o.owner);
    const still = released.map((n) => m.devices.find((d) => d.name === n)!).filter((d) => d.activity.running);
    const notes = [`'${owner.name}' (pid ${owner.pid}) killed; the kernel released ${released.join(', ') || 'nothing'}`];
    for (const d of still) notes.push(`WARNING: ${d.name} is STILL RUNNING: ${d.vfio?.reset ? 'its reset function did not stop it (an injected fault: see vfioctl fault)' : 'no reset function quiesced it'}; its DMA now faults in the IOMMU and its IRQs wait for the next owner`);
    for (const n of released) if (!still.some((d) => d.name === n)) notes.push(`${n}: quiet (reset on release)`);
    return { owner: owner.name, pid: owner.pid, released, stillRunning: still.map((d) => d.name), notes };
  },
  render: renderNotes,
});
