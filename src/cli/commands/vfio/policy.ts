/** `policy generic-reset on|off`: opt into a what-if that is NOT in mainline Linux (the generic reset-controller reset). */
import { defineCommand, word } from '../../command.js';
import { UsageError } from '../../../base/errors.js';

export interface PolicyData {
  policy: string;
  enabled: boolean;
  inMainline: false;
}

export default defineCommand({
  name: 'policy',
  group: 'vfio',
  summary: 'opt into a what-if that is NOT in mainline Linux (generic reset-controller reset)',
  example: 'vfioctl policy generic-reset on',
  args: [
    { name: 'name', description: 'generic-reset', complete: { words: ['generic-reset'] } },
    { name: 'on|off', complete: { words: ['on', 'off'] } },
  ],
  machine: 'write',
  kernelLines: false,
  options(p) {
    const name = word(p, 0);
    const onoff = word(p, 1);
    if (name !== 'generic-reset') throw new UsageError(`unknown policy "${name}"`, 'known: generic-reset');
    if (onoff !== 'on' && onoff !== 'off') throw new UsageError('say on or off');
    return { name, on: onoff === 'on' };
  },
  run(_rc, o: { name: string; on: boolean }, { m, sys }): PolicyData {
    sys.record('# (none on mainline Linux)', 'the generic reset-controller path was never merged: only a kernel carrying that series could reset through "resets"');
    m.options.genericResetWhatIf = o.on;
    return { policy: o.name, enabled: m.options.genericResetWhatIf, inMainline: false };
  },
  render: (d: PolicyData) =>
    d.enabled
      ? 'WHAT-IF (not in mainline Linux): vfio-platform may now reset a device through its "resets" line when it has exactly one that no other device uses.\n' +
        'This is Geert Uytterhoeven\'s 2018 series, never merged: the reset maintainer pointed out that even an "exclusive" reset control does not prove the wire is dedicated, so asserting it could reset other blocks. Shared lines are refused.\n'
      : 'generic reset-controller what-if is off (mainline behaviour)\n',
});
