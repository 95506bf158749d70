/** `fault DEV KIND`: make the hardware misbehave the way a reset function can notice (simulation only). */
import { defineCommand, word } from '../../command.js';
import { runFault, asData, renderText } from './shared.js';

export default defineCommand({
  name: 'fault',
  group: 'device',
  summary: 'inject a hardware fault the reset function runs into (simulation only; also the tree property vfioctl,fault)',
  example: 'vfioctl fault fff51000.ethernet reset-fails\nvfioctl fault fff51000.ethernet none',
  args: [
    { name: 'device', complete: 'device' },
    { name: 'kind', description: 'reset-fails | phy-timeout | mac-reset-fails | ring-timeout | none', complete: { words: ['reset-fails', 'phy-timeout', 'mac-reset-fails', 'ring-timeout', 'none'] } },
  ],
  machine: 'write',
  options: (p): { device: string; kind: string } => ({ device: word(p, 0), kind: word(p, 1) }),
  run: (_rc, o: { device: string; kind: string }, { m, sys }) => asData(runFault(m, sys, o.device, o.kind)),
  render: renderText,
});
