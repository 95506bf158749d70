/** `completion bash|zsh|fish`: print a shell completion script, made from the command definitions. */
import { defineCommand, word } from '../../command.js';
import { completionSpec, SHELLS, type Shell } from './completion-spec.js';
import { completionScript } from './completion-scripts.js';

export interface CompletionData {
  shell: Shell;
  script: string;
}

export default defineCommand({
  name: 'completion',
  group: 'teach',
  summary: 'print a bash, zsh or fish completion script',
  example: 'source <(vfioctl completion bash)          # in ~/.bashrc\nsource <(vfioctl completion zsh)           # in ~/.zshrc, after compinit\nvfioctl completion fish > ~/.config/fish/completions/vfioctl.fish',
  help:
    'Device, owner, driver and module names are read from the machine when Tab is pressed\n(read-only: the state file of --state on the line, or $VFIOCTL_STATE, …); with no state file\nyet, the names of the bundled default machine are offered and nothing is written.',
  args: [{ name: 'shell', description: 'bash, zsh or fish', choices: SHELLS, complete: 'none' }],
  machine: 'none',
  lessonCheck: false,
  options: (p) => ({ shell: word(p, 0) as Shell }),
  async run(rc, o: { shell: Shell }): Promise<CompletionData> {
    rc.explain({ command: `source <(vfioctl completion ${o.shell})`, why: 'vfioctl\'s own: a real system has no completion for sysfs writes; this loads the script into the running shell' });
    return { shell: o.shell, script: completionScript(completionSpec(await rc.commands()), o.shell) };
  },
  render: (d: CompletionData) => d.script,
});
