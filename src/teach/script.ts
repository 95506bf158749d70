/**
 * A scenario as a plain POSIX shell script that prints exactly what `vfioctl demo NAME`
 * prints (without a TTY): scripts/demo-NAME.sh are generated from here, and a test
 * keeps the committed files, the demo command and the golden output in step.
 */
import type { Scenario } from './scenario.js';

export interface DemoLine {
  kind: 'say' | 'run';
  text: string;
}

/** The demo as a sequence of narration lines and commands (the demo command and the scripts both follow it). */
export function demoLines(s: Scenario): DemoLine[] {
  const out: DemoLine[] = [];
  const say = (text: string): void => void out.push({ kind: 'say', text });
  const run = (text: string): void => void out.push({ kind: 'run', text });
  say(`== vfioctl demo ${s.name}: ${s.title} ==`);
  say(s.intro);
  say('');
  run(`load ${s.tree}`);
  s.steps.forEach((st, i) => {
    say('');
    say(`-- step ${i + 1}/${s.steps.length}: ${st.goal}`);
    say(`   why: ${st.why}`);
    for (const c of st.before ?? []) run(c);
    for (const c of st.commands) run(c);
    for (const c of st.after ?? []) run(c);
  });
  say('');
  say(s.outro);
  return out;
}

const shQuote = (t: string): string => `'${t.replace(/'/g, `'\\''`)}'`;

export function demoScript(s: Scenario): string {
  const body = demoLines(s)
    .map((l) => {
      if (l.kind === 'run') {
        if (!/^[A-Za-z0-9 ._=/-]+$/.test(l.text)) throw new Error(`demo command needs quoting: ${l.text}`);
        return `run ${l.text}`;
      }
      return l.text === '' ? 'say' : `say ${shQuote(l.text)}`;
    })
    .join('\n');
  return `#!/bin/sh
# vfioctl demo "${s.name}": ${s.title}.
# The same narrated steps as \`vfioctl demo ${s.name}\`, as a plain shell script you can read,
# copy from, or run (sh scripts/demo-${s.name}.sh). Generated from src/teach/lessons/${s.name}.ts by
# \`npm run gen-demos\`: change the scenario, not this file.
# It runs on a scratch machine in a temporary directory; your own vfioctl state is not touched.
# Set VFIOCTL to use another vfioctl (default: this checkout's bin/vfioctl; run npm run build first).
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib-demo.sh"

${body}
`;
}

/** scripts/lib-demo.sh: what every demo script sources (the scratch machine, say, run). */
export function demoLibScript(): string {
  return `# Sourced by scripts/demo-*.sh (generated with them by \`npm run gen-demos\`).
# A scratch machine in a temporary directory, removed on exit, and two helpers:
#   say TEXT      print a line of narration
#   run ARGS…     print "$ vfioctl ARGS…", run it (stderr to stdout), show a non-zero exit status
here=$(cd "$(dirname "$0")" && pwd)
VFIOCTL=\${VFIOCTL:-"$here/../bin/vfioctl"}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
VFIOCTL_STATE="$scratch/state.json"
export VFIOCTL_STATE

say() { printf '%s\\n' "\${1-}"; }
run() {
  printf '$ vfioctl %s\\n' "$*"
  "$VFIOCTL" "$@" 2>&1
  status=$?
  [ "$status" -eq 0 ] || printf '[exit %s]\\n' "$status"
}
`;
}
