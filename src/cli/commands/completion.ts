/**
 * completion bash|zsh|fish: a shell completion script generated from the commander
 * program itself (commands, subcommands, options, arguments), so it cannot drift from
 * the command line it completes. Names that live in the machine (devices, owners,
 * drivers, modules) are asked for at completion time through the hidden, read-only
 * `vfioctl __complete KIND`, which honours --state on the line being completed and
 * $VFIOCTL_STATE.
 */
import type { Command, Option, Argument } from 'commander';
import type { Out } from '../main.js';
import type { Context } from '../context.js';
import { bundledTreeNames, type GlobalOpts } from '../session.js';
import type { Machine } from '../../base/machine.js';
import { UsageError } from '../../base/errors.js';
import { SCENARIOS } from '../../teach/lessons/index.js';
import { definitionOf } from '../runner.js';
import type { Complete } from '../command.js';

const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

/** Names `vfioctl __complete KIND` prints (one per line). */
const DYNAMIC = ['devices', 'owners', 'drivers', 'modules', 'loaded', 'trees', 'sysfs', 'groups'] as const;
type Dynamic = (typeof DYNAMIC)[number];

/**
 * What a word completes to: a dynamic kind, files, directories, nothing, or a fixed list
 * of words (`=a,b,c`).
 */
type Kind = Dynamic | 'files' | 'dirs' | 'none' | `=${string}`;

/** By "command argument" first, then by argument name. */
const ARG_KINDS: Record<string, Kind | 'commands'> = {
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
  'lesson name': `=${[...SCENARIOS.map((x) => x.name), 'hint', 'stop'].join(',')}`,
  'demo name': `=${SCENARIOS.map((x) => x.name).join(',')}`,
};

/** By option (long name); options with choices complete to their choices. */
const OPT_KINDS: Record<string, Kind> = {
  '--state': 'files',
  '--driver': 'drivers',
  '--owner': 'owners',
  '--include': 'dirs',
  '--level': '=0,1,2,3,4,5,6,7',
  '--pace': 'none',
  '--only': '=vfio,groups,group',
};

const INSTALL: Record<Shell, string> = {
  bash: 'source <(vfioctl completion bash)          # in ~/.bashrc',
  zsh: 'source <(vfioctl completion zsh)           # in ~/.zshrc, after compinit',
  fish: 'vfioctl completion fish > ~/.config/fish/completions/vfioctl.fish',
};

interface OptSpec {
  flags: string[];
  /** null: a flag without a value */
  kind: Kind | null;
  description: string;
}

interface CmdSpec {
  /** "" for the program, "unbind", "sysfs cat" */
  path: string;
  description: string;
  options: OptSpec[];
  args: Kind[];
  variadic: boolean;
  subcommands: CmdSpec[];
}

interface CompletionSpec {
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
function flagKind(cmd: Command, o: Option): Kind | undefined {
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
function globalOptions(s: CompletionSpec): OptSpec[] {
  return s.root.options.filter((o) => !o.flags.includes('--version') && !o.flags.includes('--help'));
}

const words = (l: readonly string[]): string => l.join(' ');

/** Single-quoted for sh/bash/zsh. */
function shSingle(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The `case` bodies both bash and zsh use: what a command path accepts, and what each option value is. */
function shCases(s: CompletionSpec): { spec: string; optkind: string; globalOpts: string; globalValopts: string } {
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

function header(shell: Shell, comment: string, orInstall?: string): string {
  return `${comment} ${shell} completion for vfioctl, generated by: vfioctl completion ${shell}
${comment} Install: ${INSTALL[shell]}
${orInstall ? `${comment}      or: ${orInstall}\n` : ''}${comment} Device, owner, driver and module names come from the machine when you press Tab
${comment} (vfioctl __complete: read-only; honours --state on the line and $VFIOCTL_STATE).
`;
}

const SH_SPEC = (cases: ReturnType<typeof shCases>): string => `# what command path $1 accepts: subcommands, options, options taking a value, argument kinds
_vfioctl_spec() {
  subs='' opts='' valopts='' args='' argsv=''
  case $1 in
${cases.spec}  esac
  if [[ -n $1 ]]; then
    opts="$opts ${cases.globalOpts}"
    valopts="$valopts ${cases.globalValopts}"
  fi
}

_vfioctl_optkind() {
  kind=none
  case "$1|$2" in
${cases.optkind}  esac
}

# from the words before the cursor ($@, without the command name): the command path,
# how many arguments it has so far, and the --state of the line (into vstate)
_vfioctl_scan() {
  cmdpath='' npos=0 vstate=()
  local t skip=''
  for t in "$@"; do
    if [[ -n $skip ]]; then
      [[ $skip == --state ]] && vstate=(--state "$t")
      skip=''
      continue
    fi
    _vfioctl_spec "$cmdpath"
    if [[ $t == -* ]]; then
      [[ $t == --state=* ]] && vstate=(--state "\${t#--state=}")
      [[ $t != *=* && " $valopts " == *" $t "* ]] && skip=$t
      continue
    fi
    if (( npos == 0 )) && [[ " $subs " == *" $t "* ]]; then cmdpath=\${cmdpath:+$cmdpath }$t; continue; fi
    (( npos++ ))
  done
}

# what the word being completed ($1, after $2) is, into kind: a kind, =fixed,words, or commands
_vfioctl_kind() {
  kind=''
  _vfioctl_spec "$cmdpath"
  if [[ $1 == --*=* ]]; then _vfioctl_optkind "$cmdpath" "\${1%%=*}"
  elif [[ $2 == -* && $2 != *=* && " $valopts " == *" $2 "* ]]; then _vfioctl_optkind "$cmdpath" "$2"
  elif [[ $1 == -* ]]; then kind="=\${opts// /,}"
  elif (( npos == 0 )) && [[ -n $subs ]]; then kind=commands
  else
    local rest="$args " k='' n=0
    while [[ -n \${rest// /} ]]; do
      k=\${rest%% *} rest=\${rest#* }
      if (( n == npos )); then kind=$k; return 0; fi
      (( n++ ))
    done
    [[ -n $argsv ]] && kind=$k # the last argument is variadic
  fi
  return 0
}
`;

function bashScript(s: CompletionSpec): string {
  return `${header('bash', '#')}
${SH_SPEC(shCases(s))}
# candidates for one kind of word, into COMPREPLY (uses vf and vstate of the caller)
_vfioctl_reply() {
  local kind=$1 cur=$2
  COMPREPLY=()
  case $kind in
    ''|none) ;;
    files) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    dirs) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    trees)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -W "$("$vf" __complete trees 2>/dev/null)" -- "$cur"; compgen -f -- "$cur") ;;
    sysfs)
      mapfile -t COMPREPLY < <("$vf" "\${vstate[@]}" __complete sysfs "$cur" 2>/dev/null)
      if [[ \${#COMPREPLY[@]} -eq 1 && \${COMPREPLY[0]} == */ ]]; then compopt -o nospace 2>/dev/null; fi ;;
    =*) local list=\${kind#=}; mapfile -t COMPREPLY < <(compgen -W "\${list//,/ }" -- "$cur") ;;
    *) mapfile -t COMPREPLY < <(compgen -W "$("$vf" "\${vstate[@]}" __complete "$kind" 2>/dev/null)" -- "$cur") ;;
  esac
}

_vfioctl() {
  # the words from the line itself: bash splits COMP_WORDS at ':' and '=' (soc:gpio-keys)
  local line point
  if [[ -n \${COMP_LINE+x} ]]; then line=$COMP_LINE point=\${COMP_POINT:-\${#COMP_LINE}}
  else line="\${COMP_WORDS[*]:0:COMP_CWORD+1}" point=\${#line}; fi
  line=\${line:0:point}
  local -a w
  read -ra w <<< "$line"
  if [[ \${#w[@]} -eq 0 || $line == *[[:space:]] ]]; then w+=(''); fi
  local last=$(( \${#w[@]} - 1 ))
  (( last > 0 )) || return 0
  local cur=\${w[last]} prev=\${w[last-1]}
  local vf=\${w[0]/#\\~/$HOME} cmdpath npos subs opts valopts args argsv kind pre=''
  local -a vstate=()
  _vfioctl_scan "\${w[@]:1:last-1}"
  _vfioctl_kind "$cur" "$prev"
  if [[ $cur == --*=* ]]; then pre=\${cur%%=*}= cur=\${cur#*=}; fi
  [[ $kind == commands ]] && kind="=\${subs// /,}"
  _vfioctl_reply "$kind" "$cur"
  # bash replaces only its own current word, which starts after the last ':' or '=' (COMP_WORDBREAKS)
  local word=$pre$cur k strip=''
  for (( k = \${#word} - 1; k >= 0; k-- )); do
    if [[ $COMP_WORDBREAKS == *"\${word:k:1}"* ]]; then strip=\${word:0:k+1}; break; fi
  done
  if [[ -n $pre && \${#strip} -lt \${#pre} ]]; then
    COMPREPLY=("\${COMPREPLY[@]/#/$pre}")
  fi
  [[ -n $strip ]] && COMPREPLY=("\${COMPREPLY[@]#"$strip"}")
  return 0
}

complete -F _vfioctl vfioctl
`;
}

function zshDescribe(s: CompletionSpec): string {
  let out = '';
  for (const c of s.all.filter((x) => x.subcommands.length)) {
    const items = c.subcommands.map((x) => shSingle(`${x.path.split(' ').pop()!.replace(/:/g, '\\:')}:${x.description.split('\n')[0]}`));
    out += `    ${shSingle(c.path)}) descs=(${items.join(' ')}) ;;\n`;
  }
  return out;
}

function zshScript(s: CompletionSpec): string {
  return `#compdef vfioctl
${header('zsh', '#', 'vfioctl completion zsh > "${fpath[1]}/_vfioctl"   # a directory in $fpath')}compdef _vfioctl vfioctl

${SH_SPEC(shCases(s))}
_vfioctl_descs() {
  descs=()
  case $1 in
${zshDescribe(s)}  esac
}

_vfioctl() {
  local vf=\${words[1]/#\\~/$HOME} cur=\${words[CURRENT]} prev=\${words[CURRENT-1]}
  local cmdpath npos subs opts valopts args argsv kind
  local -a vstate descs
  _vfioctl_scan "\${(@)words[2,CURRENT-1]}"
  _vfioctl_kind "$cur" "$prev"
  if [[ $cur == --*=* ]]; then
    compset -P '*='
    cur=\${cur#*=}
  fi
  case $kind in
    ''|none) return 1 ;;
    commands) _vfioctl_descs "$cmdpath"; _describe -t commands 'vfioctl command' descs ;;
    files) _files ;;
    dirs) _files -/ ;;
    trees) compadd -- \${(f)"$($vf __complete trees 2>/dev/null)"}; _files ;;
    sysfs) compadd -Q -S '' -- \${(f)"$($vf $vstate __complete sysfs "$cur" 2>/dev/null)"} ;;
    =*) compadd -- \${(s:,:)\${kind#=}} ;;
    *) compadd -- \${(f)"$($vf $vstate __complete $kind 2>/dev/null)"} ;;
  esac
}

# run when autoloaded from $fpath; when sourced, compdef above is enough
if [[ "$funcstack[1]" == _vfioctl ]]; then _vfioctl "$@"; fi
`;
}

/** Single-quoted for fish (\\ and \\' are its only escapes there). */
function fishSingle(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function fishKindArgs(k: Kind): string {
  switch (k) {
    case 'none': return '-x';
    case 'files': return '-r -F';
    case 'dirs': return `-x -a ${fishSingle('(__fish_complete_directories (commandline -ct) "")')}`;
    case 'trees': return `-F -a ${fishSingle('(__vfioctl_query trees)')}`;
    case 'sysfs': return `-x -a ${fishSingle('(__vfioctl_query sysfs (commandline -ct))')}`;
    default:
      if (k.startsWith('=')) return `-x -a ${fishSingle(k.slice(1).split(',').join(' '))}`;
      return `-x -a ${fishSingle(`(__vfioctl_query ${k})`)}`;
  }
}

function fishScript(s: CompletionSpec): string {
  const glob = globalOptions(s);
  const switchOf = (pick: (c: CmdSpec) => string[]): string =>
    s.all
      .filter((c) => pick(c).length > 0)
      .map((c) => `        case ${fishSingle(c.path)}\n            printf '%s\\n' ${pick(c).map(fishSingle).join(' ')}`)
      .join('\n');
  const optLine = (cond: string, o: OptSpec): string => {
    const parts = ['complete -c vfioctl'];
    if (cond) parts.push(`-n ${fishSingle(cond)}`);
    for (const f of o.flags) parts.push(f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`);
    if (o.kind !== null) parts.push(fishKindArgs(o.kind));
    parts.push(`-d ${fishSingle(o.description)}`);
    return parts.join(' ');
  };
  const lines: string[] = [];
  lines.push('complete -c vfioctl -f');
  for (const o of s.root.options) lines.push(optLine('', o));
  for (const c of s.all) {
    for (const sub of c.subcommands) lines.push(`complete -c vfioctl -n ${fishSingle(`__vfioctl_arg ${fishSingle(c.path)} 0`)} -a ${fishSingle(sub.path.split(' ').pop()!)} -d ${fishSingle(sub.description.split('\n')[0] ?? '')}`);
    if (c.path === '') continue;
    // -h/--help is completed everywhere by the program's own line above
    for (const o of c.options.filter((x) => !x.flags.includes('--help'))) lines.push(optLine(`__vfioctl_in ${fishSingle(c.path)}`, o));
    c.args.forEach((k, i) => {
      if (k === 'none') return;
      const last = i === c.args.length - 1 && c.variadic ? ' more' : '';
      lines.push(`complete -c vfioctl -n ${fishSingle(`__vfioctl_arg ${fishSingle(c.path)} ${i}${last}`)} ${fishKindArgs(k)}`);
    });
  }
  return `${header('fish', '#')}
function __vfioctl_subs
    switch "$argv[1]"
${switchOf((c) => c.subcommands.map((x) => x.path.split(' ').pop()!))}
    end
end

function __vfioctl_valopts
    printf '%s\\n' ${glob.filter((o) => o.kind !== null).flatMap((o) => o.flags).map(fishSingle).join(' ')}
    switch "$argv[1]"
${switchOf((c) => (c.path === '' ? [] : c.options.filter((o) => o.kind !== null).flatMap((o) => o.flags)))}
    end
end

# ":" and the command path (":", ":unbind", ":sysfs cat"), then how many arguments precede the cursor
function __vfioctl_ctx
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l p ''
    set -l npos 0
    set -l skip 0
    for t in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        if string match -q -- '-*' $t
            if not string match -q -- '*=*' $t; and contains -- $t (__vfioctl_valopts "$p")
                set skip 1
            end
            continue
        end
        if test $npos = 0; and contains -- $t (__vfioctl_subs "$p")
            set p (string trim -- "$p $t")
            continue
        end
        set npos (math $npos + 1)
    end
    # ':' first: an empty path must not be an empty line
    printf '%s\\n' ":$p" $npos
end

function __vfioctl_in
    set -l c (__vfioctl_ctx)
    test "$c[1]" = ":$argv[1]"
end

# __vfioctl_arg PATH N [more]: completing argument N of PATH (or any later one with "more")
function __vfioctl_arg
    set -l c (__vfioctl_ctx)
    test "$c[1]" = ":$argv[1]"; or return 1
    test "$c[2]" = "$argv[2]"; and return 0
    test (count $argv) -ge 3; and test "$c[2]" -gt "$argv[2]"
end

# vfioctl [--state FILE] __complete KIND…, with the --state of the line being completed
function __vfioctl_query
    set -l tokens (commandline -opc)
    set -l st
    for i in (seq (count $tokens))
        switch $tokens[$i]
            case --state
                if test $i -lt (count $tokens)
                    set st --state $tokens[(math $i + 1)]
                end
            case '--state=*'
                set st --state (string replace -- --state= '' $tokens[$i])
        end
    end
    $tokens[1] $st __complete $argv 2>/dev/null
end

${lines.join('\n')}
`;
}

function completionScript(program: Command, shell: Shell): string {
  const s = completionSpec(program);
  return shell === 'bash' ? bashScript(s) : shell === 'zsh' ? zshScript(s) : fishScript(s);
}

// ---- vfioctl __complete KIND [PREFIX] ----

/**
 * The machine for completion, never written: the state file as it is, the bundled default
 * machine (booted in memory) when there is none yet, since that is what the next command
 * would boot; null when the file cannot be used (completion then offers nothing).
 */
async function machineForCompletion(ctx: Context, g: GlobalOpts): Promise<Machine | null> {
  const { readState } = await import('../../state/store.js');
  const { activeStatePath, bootDefault } = await import('../session.js');
  try {
    // the machine the next command would act on: a lesson's scratch machine while one is in progress
    const m = readState(activeStatePath(ctx, g));
    if (m) return m;
    return await bootDefault(ctx);
  } catch {
    return null;
  }
}

/** Entries of the sysfs directory `prefix` lies in that start like it; directories end with '/'. */
async function sysfsCandidates(m: Machine, prefix: string): Promise<string[]> {
  if (!prefix.startsWith('/')) return ['/sys/', '/dev/'].filter((p) => p.startsWith(prefix));
  const { sysRoot } = await import('../../sysfs/tree.js');
  const { resolve } = await import('../../sysfs/vfs.js');
  const root = sysRoot(m);
  const dir = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  const base = prefix.slice(dir.length);
  try {
    const d = resolve(root, dir, true).node;
    if (d.kind !== 'dir') return [];
    // names first, then only the matching entries are looked at (a directory may hold 10,000 devices)
    return d
      .list()
      .filter((n) => n.startsWith(base))
      .sort()
      .map((n) => {
        let e = d.lookup(n);
        if (e?.kind === 'link') {
          try {
            e = resolve(root, e.target, true).node; // targets are absolute: no walk back through this directory
          } catch {
            e = undefined; // a dangling link
          }
        }
        return dir + n + (e?.kind === 'dir' ? '/' : '');
      });
  } catch {
    return [];
  }
}

async function completeWords(ctx: Context, g: GlobalOpts, kind: string, prefix: string): Promise<string[]> {
  if (!(DYNAMIC as readonly string[]).includes(kind)) {
    throw new UsageError(`__complete: unknown kind "${kind}"`, `kinds: ${DYNAMIC.join(', ')} (this command is for the completion scripts: vfioctl completion --help)`);
  }
  const k = kind as Dynamic;
  if (k === 'trees') return bundledTreeNames(ctx);
  const m = await machineForCompletion(ctx, g);
  if (!m) return [];
  switch (k) {
    case 'devices': return m.devices.map((d) => d.name);
    case 'owners': return m.owners.filter((o) => o.alive).map((o) => o.name);
    case 'groups': return m.groups.map((g) => String(g.id));
    // registered drivers, and those a module would register (vfio-platform before modprobe)
    case 'drivers': return [...new Set([...m.drivers.map((d) => d.name), ...m.modulesAvailable.flatMap((x) => x.drivers)])];
    case 'modules': return m.modulesAvailable.map((x) => x.name.replace(/_/g, '-'));
    case 'loaded': return m.modules.map((x) => x.name);
    case 'sysfs': return sysfsCandidates(m, prefix);
  }
}

export async function completeCmd(o: Out, kind: string, prefix: string): Promise<void> {
  const names = await completeWords(o.ctx, o.g, kind, prefix);
  o.emit({ kind, names }, names.map((n) => n + '\n').join(''));
}

export async function completionCmd(o: Out, program: Command, shell: Shell): Promise<void> {
  const script = completionScript(program, shell);
  o.emit({ shell, script }, script, [{ command: `source <(vfioctl completion ${shell})`, why: 'vfioctl\'s own: a real system has no completion for sysfs writes; this loads the script into the running shell' }]);
}
