/**
 * Lesson e, generic-reset (tree: default): the reset-controller what-if that was proposed
 * for vfio-platform and never merged, a dedicated reset line and a shared one.
 */
import type { Scenario } from '../scenario.js';
import { dev, logged } from '../checks.js';
import { modprobeStep, MISSING_MODULE } from '../steps.js';

export const genericResetLesson: Scenario = {
  name: 'generic-reset',
  letter: 'e',
  title: 'The generic reset-controller what-if, and why it was never merged',
  tree: 'default',
  intro:
    'fff80000.sata has no reset module, but its device-tree node has a "resets" line of its own. In 2018 Geert Uytterhoeven proposed ' +
    'letting vfio-platform reset such devices through the reset controller. It was never merged. vfioctl can act it out as a clearly ' +
    'labelled what-if.',
  steps: [
    { ...modprobeStep(), keep: 3 },
    {
      goal: 'Try the classic sequence on fff80000.sata and watch mainline refuse it',
      why: 'mainline vfio-platform knows only reset modules and ACPI _RST; a "resets" property does not count',
      hint: 'override, unbind, probe; then read the kernel lines',
      commands: ['override fff80000.sata vfio-platform', 'unbind fff80000.sata', 'probe fff80000.sata'],
      done: (m, since) => logged(m, since, 'No reset function found for device fff80000.sata'),
      refusal: MISSING_MODULE,
    },
    {
      goal: 'Switch on the generic-reset what-if',
      why: 'it is NOT in mainline Linux: vfioctl labels every result of it',
      hint: 'vfioctl policy',
      commands: ['policy generic-reset on'],
      done: (m) => m.options.genericResetWhatIf,
      keep: 2,
    },
    {
      goal: 'Probe fff80000.sata again',
      why: 'its reset line is dedicated (no other device uses it), so the what-if accepts it as a reset function',
      hint: 'the same probe',
      commands: ['probe fff80000.sata'],
      after: ['info fff80000.sata'],
      done: (m) => dev(m, 'fff80000.sata')?.vfio?.reset?.kind === 'reset-controller',
    },
    {
      goal: 'Try fff81000.pwm, whose reset line it shares with fff82000.pwm',
      why: 'asserting a shared line resets every block on it; that risk is why the series was not merged',
      hint: 'the same three steps on fff81000.pwm',
      commands: ['override fff81000.pwm vfio-platform', 'unbind fff81000.pwm', 'probe fff81000.pwm'],
      done: (m, since) => logged(m, since, 'No reset function found for device fff81000.pwm'),
      refusal: (r, m) =>
        r.code === 'ENOENT' && m.options.genericResetWhatIf && (r.path?.endsWith('/drivers/vfio-platform/bind') ?? false)
          ? 'refused, as this step expects: the pwm\'s reset line is shared, so even the what-if will not use it; the refusal stays in the kernel log (vfioctl dmesg), as it does after drivers_probe (vfioctl probe), which reports success instead'
          : null,
    },
    {
      goal: 'Switch the what-if off again',
      why: 'back to mainline behaviour (devices already bound keep their reset method until they are unbound)',
      hint: 'vfioctl policy … off',
      commands: ['policy generic-reset off'],
      done: (m) => !m.options.genericResetWhatIf,
    },
  ],
  outro:
    'The generic path was rejected because an exclusive reset control does not prove that the wire is dedicated: the device tree cannot ' +
    'promise that nothing else sits on the line. Mainline kept per-device reset modules (now deprecated themselves) and ACPI _RST.',
};
