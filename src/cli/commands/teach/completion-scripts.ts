/**
 * The bash, zsh and fish scripts `completion` prints, written from the completion spec
 * (completion-spec.ts: the command definitions themselves), so they cannot drift from the
 * command line they complete. Names that live in the machine (devices, owners, drivers,
 * modules) are asked for at completion time through the hidden, read-only
 * `vfioctl __complete KIND` (complete.ts), which honours --state on the line being
 * completed and $VFIOCTL_STATE.
 */
import { globalOptions, header, shCases, shSingle, type CompletionSpec, type CmdSpec, type OptSpec, type Kind, type Shell } from './completion-spec.js';

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

export function completionScript(s: CompletionSpec, shell: Shell): string {
  return shell === 'bash' ? bashScript(s) : shell === 'zsh' ? zshScript(s) : fishScript(s);
}
