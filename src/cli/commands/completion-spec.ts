/**
 * What the completion scripts are made from: the commands, options and arguments of the
 * commander program, each with the kind of word it completes to (read from the command
 * definitions, src/cli/command.ts). src/cli/commands/completion.ts writes the scripts.
 */
import type { Command, Option, Argument } from 'commander';
import { SCENARIOS } from '../../teach/lessons/index.js';
import { definitionOf } from '../runner.js';
import type { Complete } from '../command.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** Names `vfioctl __complete KIND` prints (one per line). */
export const DYNAMIC = ['devices', 'owners', 'drivers', 'modules', 'loaded', 'trees', 'sysfs', 'groups'] as const;
export type Dynamic = (typeof DYNAMIC)[number];

/**
 * What a word completes to: a dynamic kind, files, directories, nothing, or a fixed list
 * of words (`=a,b,c`).
 */
export type Kind = Dynamic | 'files' | 'dirs' | 'none' | `=${string}`;

/** By "command argument" first, then by argument name. */
export const ARG_KINDS: Record<string, Kind | 'commands'> = {
  device: 'devices',
  owner: 'owners',
  tree: 'trees',
  dir: 'dirs',
  path: 'sysfs',
  'override driver': 'drivers',
  'modprobe module': 'modules',
  'rmmod module': 'loaded',
  'modprobe params': 'none',
  'sysfs write value': 'none',
  'unmask index': 'none',
  'policy name': '=generic-reset',
  'policy on|off': '=on,off',
  command: 'commands',
  'run cmd': 'files',
  'lesson name': `=${[...SCENARIOS.map((x) => x.name), 'hint', 'stop'].join(',')}`,
  'demo name': `=${SCENARIOS.map((x) => x.name).join(',')}`,
};

/** By option (long name); options with choices complete to their choices. */
export const OPT_KINDS: Record<string, Kind> = {
  '--state': 'files',
  '--driver': 'drivers',
  '--owner': 'owners',
  '--include': 'dirs',
  '--level': '=0,1,2,3,4,5,6,7',
  '--pace': 'none',
  '--trace': 'files',
  '--only': '=vfio,groups,group',
};

export const INSTALL: Record<Shell, string> = {
  bash: 'source <(vfioctl completion bash)          # in ~/.bashrc',
  zsh: 'source <(vfioctl completion zsh)           # in ~/.zshrc, after compinit',
  fish: 'vfioctl completion fish > ~/.config/fish/completions/vfioctl.fish',
};

export interface OptSpec {
  flags: string[];
  /** null: a flag without a value */
  kind: Kind | null;
  description: string;
}

export interface CmdSpec {
  /** "" for the program, "unbind", "sysfs cat" */
  path: string;
  description: string;
  options: OptSpec[];
  args: Kind[];
  variadic: boolean;
  subcommands: CmdSpec[];
}

export interface CompletionSpec {
  root: CmdSpec;
  /** every command, the program first */
  all: CmdSpec[];
  /** arguments and options with a value whose kind is not known (they complete to nothing) */
  unmapped: string[];
}

/** A definition's completion kind as the scripts spell it. */
export function shellKind(c: Complete): Kind | 'commands' {
  if (typeof c === 'object') return `=${c.words.join(',')}`;
  switch (c) {
    case 'device': return 'devices';
    case 'driver': return 'drivers';
    case 'module': return 'modules';
    case 'loaded-module': return 'loaded';
    case 'owner': return 'owners';
    case 'group': return 'groups';
    case 'tree': return 'trees';
    case 'sysfs': return 'sysfs';
    case 'file': return 'files';
    case 'dir': return 'dirs';
    case 'lesson': return `=${[...SCENARIOS.map((x) => x.name), 'hint', 'stop'].join(',')}`;
    case 'demo': return `=${SCENARIOS.map((x) => x.name).join(',')}`;
    case 'command': return 'commands';
    case 'none': return 'none';
  }
}

/** the kind of a definition's flag, by its long (or short) name */
export function flagKind(cmd: Command, o: Option): Kind | undefined {
  const def = definitionOf(cmd);
  const f = def?.flags?.find((x) => {
    const names = x.flags.split(/[ ,|]+/).filter((w) => w.startsWith('-'));
    return names.includes(o.long ?? '') || names.includes(o.short ?? '');
  });
  if (!f) return undefined;
  const k = shellKind(f.complete ?? 'none');
  return k === 'commands' ? 'none' : k;
}

/** Read the commands, options and arguments from the commander program (kinds from the definitions). */
export function completionSpec(program: Command): CompletionSpec {
  const help = program.createHelp();
  const unmapped: string[] = [];
  const optSpec = (path: string, o: Option, cmd: Command): OptSpec => {
    const flags = [o.short, o.long].filter((f): f is string => f !== undefined);
    let kind: Kind | null = null;
    if (o.required || o.optional) {
      const known = o.argChoices ? (`=${o.argChoices.join(',')}` as const) : (flagKind(cmd, o) ?? OPT_KINDS[o.long ?? '']);
      if (known === undefined) unmapped.push(`${path || 'vfioctl'} ${o.long ?? o.short}`);
      kind = known ?? 'none';
    }
    return { flags, kind, description: o.description };
  };
  /** `siblings`: the commands next to `cmd`, which `help <command>` completes to */
  const argKind = (cmdPath: string, a: Argument, siblings: readonly string[], c: Command, i: number): Kind => {
    const cmd = cmdPath || 'vfioctl';
    const fromDef = definitionOf(c)?.args?.[i];
    const k = a.argChoices ? (`=${a.argChoices.join(',')}` as const) : fromDef ? shellKind(fromDef.complete) : (ARG_KINDS[`${cmd} ${a.name()}`] ?? ARG_KINDS[a.name()]);
    if (k === undefined) unmapped.push(`${cmd} <${a.name()}>`);
    return k === 'commands' ? `=${siblings.join(',')}` : (k ?? 'none');
  };
  const spec = (c: Command, path: string, siblings: readonly string[]): CmdSpec => {
    const subs = help.visibleCommands(c);
    const names = subs.map((x) => x.name());
    return {
      path,
      description: c.description(),
      // the program's own options are listed for the program only; each script adds them after a command
      options: help.visibleOptions(c).map((o) => optSpec(path, o, c)),
      args: c.registeredArguments.map((a, i) => argKind(path, a, siblings, c, i)),
      variadic: c.registeredArguments.some((a) => a.variadic),
      subcommands: subs.map((x) => spec(x, path ? `${path} ${x.name()}` : x.name(), names)),
    };
  };
  const root = spec(program, '', []);
  const all: CmdSpec[] = [];
  const walk = (c: CmdSpec): void => {
    all.push(c);
    c.subcommands.forEach(walk);
  };
  walk(root);
  return { root, all, unmapped };
}

/** Global options accepted after a command too (commander parses them anywhere); not --version/--help. */
export function globalOptions(s: CompletionSpec): OptSpec[] {
  return s.root.options.filter((o) => !o.flags.includes('--version') && !o.flags.includes('--help'));
}

export const words = (l: readonly string[]): string => l.join(' ');

/** Single-quoted for sh/bash/zsh. */
export function shSingle(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The `case` bodies both bash and zsh use: what a command path accepts, and what each option value is. */
export function shCases(s: CompletionSpec): { spec: string; optkind: string; globalOpts: string; globalValopts: string } {
  const glob = globalOptions(s);
  let spec = '';
  let optkind = '';
  for (const c of s.all) {
    const valued = c.options.filter((o) => o.kind !== null);
    const fields = [
      `subs=${shSingle(words(c.subcommands.map((x) => x.path.split(' ').pop()!)))}`,
      `opts=${shSingle(words(c.options.flatMap((o) => o.flags)))}`,
      `valopts=${shSingle(words(valued.flatMap((o) => o.flags)))}`,
      `args=${shSingle(words(c.args))}`,
      `argsv=${c.variadic ? '1' : "''"}`,
    ];
    spec += `    ${shSingle(c.path)}) ${fields.join('; ')} ;;\n`;
    for (const o of valued) optkind += `    ${o.flags.map((f) => shSingle(`${c.path}|${f}`)).join('|')}) kind=${shSingle(o.kind!)} ;;\n`;
  }
  // the program's options, accepted after a command too
  for (const o of glob.filter((x) => x.kind !== null)) optkind += `    ${o.flags.map((f) => `*${shSingle(`|${f}`)}`).join('|')}) kind=${shSingle(o.kind!)} ;;\n`;
  return {
    spec,
    optkind,
    globalOpts: words(glob.flatMap((o) => o.flags)),
    globalValopts: words(glob.filter((o) => o.kind !== null).flatMap((o) => o.flags)),
  };
}

export function header(shell: Shell, comment: string, orInstall?: string): string {
  return `${comment} ${shell} completion for vfioctl, generated by: vfioctl completion ${shell}
${comment} Install: ${INSTALL[shell]}
${orInstall ? `${comment}      or: ${orInstall}\n` : ''}${comment} Device, owner, driver and module names come from the machine when you press Tab
${comment} (vfioctl __complete: read-only; honours --state on the line and $VFIOCTL_STATE).
`;
}
