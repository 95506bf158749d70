/**
 * What the completion scripts are made from: the command definitions (src/cli/command.ts,
 * in the order of commands/index.ts), their arguments and flags, each with the kind of
 * word it completes to, and the program's own flags; commander's implicit `help` command
 * is added where commander adds it. completion-scripts.ts writes the scripts.
 */
import { Option } from 'commander';
import { SCENARIOS } from '../../../teach/lessons/index.js';
import { GLOBAL_FLAGS, PARENT_COMMANDS, VERSION_FLAG, type AnyCommand, type ArgSpec, type Complete, type FlagSpec } from '../../command.js';

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
  /** flags taking a value that say neither their choices nor what they complete to (they complete to nothing) */
  unmapped: string[];
}

/** A definition's completion kind as the scripts spell it. */
export function shellKind(c: Complete): Kind {
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
    // a program to run (`run -- CMD`): a path, as files complete
    case 'command': return 'files';
    case 'dir': return 'dirs';
    case 'lesson': return `=${[...SCENARIOS.map((x) => x.name), 'hint', 'stop'].join(',')}`;
    case 'demo': return `=${SCENARIOS.map((x) => x.name).join(',')}`;
    case 'none': return 'none';
  }
}

/** the option commander adds to every command but `help` */
const HELP_FLAG: FlagSpec = { flags: '-h, --help', description: 'display help for command' };

/** Read the commands, options and arguments from the definitions (hidden ones left out). */
export function completionSpec(defs: readonly AnyCommand[]): CompletionSpec {
  const unmapped: string[] = [];
  const optSpec = (where: string, f: FlagSpec): OptSpec => {
    const o = new Option(f.flags, f.description);
    const flags = [o.short, o.long].filter((x): x is string => x !== undefined);
    let kind: Kind | null = null;
    if (o.required || o.optional) {
      if (f.choices) kind = `=${f.choices.join(',')}`;
      else if (f.complete !== undefined) kind = shellKind(f.complete);
      else unmapped.push(`${where} ${o.long ?? o.short}`);
      kind ??= 'none';
    }
    return { flags, kind, description: f.description };
  };
  const argKind = (a: ArgSpec): Kind => (a.choices ? `=${a.choices.join(',')}` : shellKind(a.complete));
  const command = (def: AnyCommand): CmdSpec => ({
    path: def.name,
    description: def.summary,
    options: [...(def.flags ?? []), HELP_FLAG].map((f) => optSpec(def.name, f)),
    args: (def.args ?? []).map(argKind),
    variadic: (def.args ?? []).some((a) => a.variadic),
    subcommands: [],
  });
  /** commander's `help [command]` beside `siblings`, completing to their names */
  const withHelp = (parent: string, subs: CmdSpec[]): CmdSpec[] => {
    const names = [...subs.map((x) => x.path.split(' ').pop()!), 'help'];
    return [...subs, { path: parent ? `${parent} help` : 'help', description: 'display help for command', options: [], args: [`=${names.join(',')}`], variadic: false, subcommands: [] }];
  };
  const top: CmdSpec[] = [];
  const parents = new Map<string, CmdSpec>();
  for (const def of defs.filter((d) => !d.hidden)) {
    const [first, ...rest] = def.name.split(' ');
    if (rest.length === 0) {
      top.push(command(def));
      continue;
    }
    let parent = parents.get(first!);
    if (!parent) {
      parent = { path: first!, description: PARENT_COMMANDS[first!]?.summary ?? '', options: [optSpec(first!, HELP_FLAG)], args: [], variadic: false, subcommands: [] };
      parents.set(first!, parent);
      top.push(parent);
    }
    parent.subcommands.push(command(def));
  }
  for (const p of parents.values()) p.subcommands = withHelp(p.path, p.subcommands);
  const root: CmdSpec = {
    path: '',
    description: '',
    options: [VERSION_FLAG, ...GLOBAL_FLAGS, HELP_FLAG].map((f) => optSpec('vfioctl', f)),
    args: [],
    variadic: false,
    subcommands: withHelp('', top),
  };
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
