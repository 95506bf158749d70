/**
 * The README's `console` blocks as runnable sessions (used by test/bin-readme.test.ts).
 *
 * Every ```console block is preceded (blank lines aside) by one HTML comment the reader
 * never sees, saying which session it belongs to and, on a session's first block, what
 * that session starts from:
 *
 *   <!-- session: walkthrough; setup: empty directory -->
 *   <!-- session: walkthrough -->                          (a later block of the same session)
 *   <!-- session: bad-tree; setup: default machine + vfioctl modprobe vfio-platform -->
 *
 * A session is one bash process in a new temporary directory D, which is its working
 * directory, $HOME and $TMPDIR; VFIOCTL_STATE is D/state.json, NO_COLOR=1, and `vfioctl`
 * on PATH is this checkout's bin/vfioctl. The setup is a list joined by ` + `:
 *   empty directory        nothing more (no state file yet)
 *   default machine        `vfioctl -q load default` first
 *   vfioctl ARGS…          that command, run quietly (it must succeed)
 *   stale lock             $VFIOCTL_STATE.lock names a process that has exited
 *   lock held by a live process   the session's shell holds it (flock(1) on the lock file, as vfioctl
 *                          does, released when the session ends) and the file names it
 *   shell: LINE            that shell line, run quietly (it must succeed)
 * In a block, a line `$ CMD` is a command (following lines starting `> ` continue it, as
 * bash's PS2 prompt shows a here-document); the lines after it, up to the next command,
 * are what it prints, stdout and stderr together, as a terminal shows them. In expected
 * output, a line that is only `…` stands for any number of lines (the README leaves them
 * out), and `…` inside a line for any text (only where the output cannot be stable: dates,
 * pids, the owner of exported files). `/tmp/` in a command and in its output stands for D.
 */
import { readFileSync } from 'node:fs';

export interface Command {
  /** README line of the `$ ` line */
  line: number;
  /** the shell text, continuation lines joined with newlines */
  text: string;
  /** expected output lines, with their README line numbers */
  expected: { line: number; text: string }[];
}

export interface Block {
  /** README line of the opening fence */
  line: number;
  session: string;
  /** only on a session's first block */
  setup: string[] | null;
  commands: Command[];
}

export interface Session {
  name: string;
  setup: string[];
  blocks: Block[];
}

export class ReadmeFormatError extends Error {}

const FENCE_OPEN = /^(\s*)```console\s*$/;
const ANNOTATION = /^\s*<!--\s*(.*?)\s*-->\s*$/;

/** Every console block of the README, in order. Throws ReadmeFormatError naming the line of a block it cannot read. */
export function readBlocks(readme: string): Block[] {
  const lines = readme.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_OPEN.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!;
    const where = `README.md:${i + 1}`;
    let a = i - 1;
    while (a >= 0 && lines[a]!.trim() === '') a--;
    const ann = a >= 0 ? ANNOTATION.exec(lines[a]!) : null;
    if (!ann) throw new ReadmeFormatError(`${where}: console block without a "<!-- session: NAME; setup: … -->" comment before it`);
    const fields = new Map<string, string>();
    for (const part of ann[1]!.split(/;(?=\s*[a-z]+\s*:)/)) {
      const m = /^\s*([a-z]+)\s*:\s*(.*?)\s*$/.exec(part);
      if (!m) throw new ReadmeFormatError(`${where}: cannot read "${part.trim()}" in the session comment (want key: value; key: value)`);
      fields.set(m[1]!, m[2]!);
    }
    const session = fields.get('session');
    if (!session) throw new ReadmeFormatError(`${where}: the session comment names no session`);
    for (const k of fields.keys()) if (k !== 'session' && k !== 'setup') throw new ReadmeFormatError(`${where}: unknown key "${k}" in the session comment (session, setup)`);
    const setupText = fields.get('setup');
    const setup = setupText === undefined ? null : setupText.split(/\s+\+\s+/);
    const commands: Command[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const raw = lines[j]!;
      if (raw.trim() === '```') break;
      if (raw.trim() !== '' && !raw.startsWith(indent)) throw new ReadmeFormatError(`README.md:${j + 1}: line less indented than its block's fence`);
      const text = raw.slice(indent.length).replace(/\s+$/, '');
      const last = commands[commands.length - 1];
      if (text.startsWith('$ ')) commands.push({ line: j + 1, text: text.slice(2), expected: [] });
      else if (last && last.expected.length === 0 && (text.startsWith('> ') || text === '>')) last.text += '\n' + text.slice(2);
      else if (!last) throw new ReadmeFormatError(`README.md:${j + 1}: output before the block's first "$ " command`);
      else last.expected.push({ line: j + 1, text });
    }
    if (j === lines.length) throw new ReadmeFormatError(`${where}: console block is never closed`);
    // a blank line before the closing fence is not output
    for (const c of commands) while (c.expected.length && c.expected[c.expected.length - 1]!.text === '') c.expected.pop();
    blocks.push({ line: i + 1, session, setup, commands });
    i = j;
  }
  return blocks;
}

/** Blocks grouped into sessions, in README order; each session's first block must say its setup, later ones must not. */
export function sessions(blocks: readonly Block[]): Session[] {
  const out = new Map<string, Session>();
  for (const b of blocks) {
    const s = out.get(b.session);
    if (!s) {
      if (!b.setup) throw new ReadmeFormatError(`README.md:${b.line}: first block of session "${b.session}" says no setup (add "; setup: empty directory", "; setup: default machine", …)`);
      for (const item of b.setup) setupLine(item, b.line);
      out.set(b.session, { name: b.session, setup: b.setup, blocks: [b] });
    } else {
      if (b.setup) throw new ReadmeFormatError(`README.md:${b.line}: session "${b.session}" already began at README.md:${s.blocks[0]!.line}; a later block gives no setup`);
      s.blocks.push(b);
    }
  }
  return [...out.values()];
}

/** One setup item as a shell line. */
export function setupLine(item: string, line: number): string | null {
  if (item === 'empty directory') return null;
  if (item === 'default machine') return 'vfioctl -q load default';
  if (item === 'stale lock') return `sh -c 'echo $$ > "$VFIOCTL_STATE.dead"' && ${lockFor('"$(cat "$VFIOCTL_STATE.dead")"')} && rm "$VFIOCTL_STATE.dead"`;
  // the lock is flock(1) on the lock file (src/state/lock.ts); its text names the holder
  if (item === 'lock held by a live process')
    return `exec 9>>"$VFIOCTL_STATE.lock" && flock -x 9 && ${lockFor('$$')}`;
  if (item.startsWith('vfioctl ')) return item;
  if (item.startsWith('shell: ')) return item.slice('shell: '.length);
  throw new ReadmeFormatError(`README.md:${line}: unknown setup "${item}" (empty directory, default machine, vfioctl ARGS…, stale lock, lock held by a live process, shell: LINE)`);
}

/** a lock file for `$VFIOCTL_STATE` naming process PID, written by vfioctl's own lock-holder code (dist/src/state/lock-holder.js) */
function lockFor(pid: string): string {
  const js = "const {self,holderText}=await import(process.env.VFIOCTL_REPO+'/dist/src/state/lock-holder.js');process.stdout.write(holderText({...self(),pid:Number(process.argv[1]),start:''},'readme'))";
  return `node --input-type=module -e "${js}" ${pid} > "$VFIOCTL_STATE.lock"`;
}

const SEP = '\u001e';

/**
 * The session as one bash script: setup lines (quiet; a failure stops the session with
 * exit 99), then each command followed by a marker carrying its index and exit status.
 */
export function sessionScript(s: Session, dir: string): string {
  const tmp = (t: string): string => t.split('/tmp/').join(`${dir}/`);
  // __rc puts the command's exit status back after the marker, for a following `echo $?`
  const out = ['exec </dev/null 2>&1', 'trap \'kill $(jobs -p) 2>/dev/null\' EXIT', '__rc() { return "$1"; }'];
  for (const item of s.setup) {
    const l = setupLine(item, s.blocks[0]!.line);
    if (l !== null) out.push(`{ ${tmp(l)}\n} >/dev/null 2>&1 || { printf 'setup failed: %s\\n' ${shq(item)}; exit 99; }`);
  }
  let i = 0;
  for (const b of s.blocks) for (const c of b.commands) out.push(`${tmp(c.text)}\n__s=$?; printf '${SEP}%d:%d${SEP}' ${i++} "$__s"; __rc "$__s"`);
  return out.join('\n') + '\n';
}

const shq = (t: string): string => `'${t.replace(/'/g, `'\\''`)}'`;

export interface Ran {
  command: Command;
  block: Block;
  exit: number;
  /** output lines, /tmp/ put back for the session directory */
  actual: string[];
}

/** Split the session's output at the markers; commands after an early end of the script are missing. */
export function splitOutput(s: Session, output: string, dir: string): Ran[] {
  const all = s.blocks.flatMap((block) => block.commands.map((command) => ({ block, command })));
  const ran: Ran[] = [];
  const re = new RegExp(`${SEP}(\\d+):(\\d+)${SEP}`, 'g');
  let from = 0;
  for (let m = re.exec(output); m; m = re.exec(output)) {
    const at = all[Number(m[1])];
    if (!at) break;
    const text = output.slice(from, m.index).split(`${dir}/`).join('/tmp/').split(dir).join('/tmp');
    const actual = text.split('\n').map((l) => l.replace(/\s+$/, ''));
    if (actual[actual.length - 1] === '') actual.pop();
    ran.push({ ...at, exit: Number(m[2]), actual });
    from = m.index + m[0].length;
  }
  return ran;
}

function lineMatches(expected: string, actual: string): boolean {
  if (!expected.includes('…')) return expected === actual;
  const re = expected.split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${re}$`).test(actual);
}

/** Does the output match the expected lines (`…` alone: any lines; inside a line: any text)? */
export function outputMatches(expected: readonly string[], actual: readonly string[]): boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (actual.length + 1) + j;
    const seen = memo.get(key);
    if (seen !== undefined) return seen;
    let r: boolean;
    if (i === expected.length) r = j === actual.length;
    else if (expected[i] === '…') r = go(i + 1, j) || (j < actual.length && go(i, j + 1));
    else r = j < actual.length && lineMatches(expected[i]!, actual[j]!) && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

/**
 * A line diff of expected against actual (LCS; `…` lines and in-line `…` compared as
 * patterns): `  ` same, `- ` only in the README (with its line number), `+ ` only in the output.
 */
export function diff(expected: readonly { line: number; text: string }[], actual: readonly string[]): string {
  const n = expected.length;
  const m = actual.length;
  const eq = (i: number, j: number): boolean => expected[i]!.text === '…' || lineMatches(expected[i]!.text, actual[j]!);
  const L: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i]![j] = eq(i, j) ? L[i + 1]![j + 1]! + 1 : Math.max(L[i + 1]![j]!, L[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && eq(i, j)) {
      out.push(`    ${actual[j]}`);
      i++;
      j++;
    } else if (i < n && (j === m || L[i + 1]![j]! >= L[i]![j + 1]!)) {
      out.push(`  - ${expected[i]!.text}   (README.md:${expected[i]!.line})`);
      i++;
    } else {
      out.push(`  + ${actual[j]}`);
      j++;
    }
  }
  return out.join('\n');
}

export function readReadme(file: string): string {
  return readFileSync(file, 'utf8');
}
