/**
 * `vfioctl run`: CMD runs in a private mount namespace where /sys is the simulated machine
 * (the FUSE filesystem), /usr/sbin (and /sbin when it is a directory of its own) has
 * modprobe/rmmod/lsmod shims acting on that machine, /proc/modules lists its modules and
 * /dev/vfio shows its group nodes. The host's mounts are never changed.
 *
 * Two processes: the outer one (on the host) checks what is needed and starts
 * `unshare --mount --propagation private [--user --map-root-user]` on vfioctl itself; the
 * inner one, inside the new namespace, opens /dev/fuse there (a FUSE mount must be made with
 * a /dev/fuse opened in its own user namespace), serves it, makes the mounts, runs CMD and
 * ends with its status.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { serve } from './channel.js';
import { FuseOps, type TraceEvent } from './ops.js';
import { stateBackend } from './backend.js';
import { commOf, fuseMissing, mountOptions, runTool } from './server.js';
import { KMOD_TOOLS, shimScript } from './kmod.js';

/** Environment of the inner process: the directory made for it and the host's mount namespace. */
export const ENV_INSIDE = 'VFIOCTL_RUN_INSIDE';
export const ENV_HOST_NS = 'VFIOCTL_RUN_HOST_NS';

export interface RunOptions {
  statePath: string;
  cmd: string[];
  noDev: boolean;
  /** record every sysfs access: printed on stderr after CMD (explain) and/or written to a file */
  explain: boolean;
  traceFile: string | undefined;
  quiet: boolean;
  lockTimeoutMs: number;
  /** node and the vfioctl bin, to start the inner process and for the shims */
  node: string;
  bin: string;
  env: Record<string, string | undefined>;
  stderr: (s: string) => void;
}

/** What `run` cannot do without, or null: FUSE, unshare, mount, user namespaces for a non-root user. */
export function runMissing(uid: number): string | null {
  const fuse = fuseMissing();
  if (fuse) return fuse;
  for (const tool of ['unshare', 'mount', 'umount']) {
    if (!onPath(tool)) return `${tool} (util-linux) is not installed or not on PATH; it is needed to make a private mount namespace`;
  }
  if (uid !== 0) {
    const max = readNumber('/proc/sys/user/max_user_namespaces');
    if (max === 0) return 'user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0): run as root, or enable them';
    const unpriv = readNumber('/proc/sys/kernel/unprivileged_userns_clone');
    if (unpriv === 0) return 'unprivileged user namespaces are disabled (/proc/sys/kernel/unprivileged_userns_clone is 0): run as root, or enable them';
  }
  return null;
}

function onPath(tool: string): boolean {
  for (const d of (process.env['PATH'] ?? '/usr/bin:/bin:/usr/sbin:/sbin').split(':')) {
    if (d && fs.existsSync(path.join(d, tool))) return true;
  }
  return false;
}

function readNumber(p: string): number | null {
  try {
    return Number(fs.readFileSync(p, 'utf8').trim());
  } catch {
    return null;
  }
}

/** The mount namespace this process is in (`mnt:[4026531841]`). */
export function mountNamespace(pid: number | 'self' = 'self'): string {
  return fs.readlinkSync(`/proc/${pid}/ns/mnt`);
}

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (os.constants.signals[signal] ?? 1) : 1);
}

/** Signals a terminal sends to the whole foreground group: CMD gets them; we wait for it. */
const GROUP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGQUIT'];
/** Signals sent to us alone: passed on to the child. */
const PASSED_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];

function superviseChild(child: import('node:child_process').ChildProcess): () => void {
  const ignore = (): void => {};
  const pass = (s: NodeJS.Signals) => (): void => void child.kill(s);
  const passers = PASSED_SIGNALS.map((s) => [s, pass(s)] as const);
  for (const s of GROUP_SIGNALS) process.on(s, ignore);
  for (const [s, f] of passers) process.on(s, f);
  return () => {
    for (const s of GROUP_SIGNALS) process.off(s, ignore);
    for (const [s, f] of passers) process.off(s, f);
  };
}

/** A step of the namespace setup that failed: what, and mount(8)'s words. */
export class SetupError extends Error {}

/** Mount points directly under `dir` (from /proc/self/mountinfo), outermost first. */
function submounts(dir: string): string[] {
  const lines = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const points = lines.map((l) => l.split(' ')[4]).filter((p): p is string => p !== undefined && p.startsWith(dir + '/'));
  const unescaped = [...new Set(points.map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))))];
  return unescaped.filter((p) => !unescaped.some((q) => q !== p && p.startsWith(q + '/')));
}

/** The sbin directories a script may name: /usr/sbin, and /sbin when it is not a link to it. */
function sbinDirs(): string[] {
  const dirs = ['/usr/sbin'];
  try {
    if (!fs.lstatSync('/sbin').isSymbolicLink() && fs.realpathSync('/sbin') !== fs.realpathSync('/usr/sbin')) dirs.push('/sbin');
  } catch {
    // no /sbin
  }
  return dirs;
}

/**
 * The namespace setup, run by sh inside the new mount namespace with the /dev/fuse fd as
 * fd 3 and a pipe as fd 4: mount, say "ready" on fd 4, close both, exec CMD. A step that
 * cannot be done without losing what `run` promises fails the run; the rest are notes.
 * Arguments: DIR QUIET NODEV USERNS FUSEOPTS, then CMD. $VFIOCTL_RUN_SBIN and
 * $VFIOCTL_RUN_DEVSUBS list the sbin directories and the mounts under /dev (one a line).
 */
const SETUP = String.raw`
T=$1 quiet=$2 nodev=$3 userns=$4 fuseopts=$5; shift 5
note() { [ "$quiet" = 1 ] || echo "vfioctl: $*" >&2; }
fail() { echo "vfioctl: run: $*" >&2; exit 1; }
m() { mount --no-canonicalize "$@" 2>&1; }
err=$(m -t tmpfs -o mode=0700 vfioctl-run "$T/ns") || fail "tmpfs for the namespace: $err"
mkdir "$T/ns/mnt" "$T/ns/sbin" && cp "$T"/shims/* "$T/ns/sbin/" || fail "cannot prepare $T/ns"
err=$(m -i -t fuse.vfioctl -o "$fuseopts" vfioctl "$T/ns/mnt") || fail "the FUSE mount: $err"
err=$(m --bind "$T/ns/mnt/sys" /sys) || fail "the bind mount over /sys: $err"
i=0
for d in $VFIOCTL_RUN_SBIN; do
  i=$((i+1)); up=$T/ns/sbin
  if [ $i -gt 1 ]; then up=$T/ns/sbin$i; cp -r "$T/ns/sbin" "$up"; fi
  mkdir "$T/ns/work$i"
  err=$(m -t overlay vfioctl-sbin -o "lowerdir=$d,upperdir=$up,workdir=$T/ns/work$i" "$d") || note "no modprobe/rmmod/lsmod shims in $d ($err); they are first on PATH only"
done
if [ -e /proc/modules ]; then
  err=$(m --bind "$T/ns/mnt/proc/modules" /proc/modules) || note "/proc/modules is the host's ($err)"
fi
if [ "$nodev" = 0 ]; then
  if [ -d /dev/vfio ]; then
    err=$(m --bind "$T/ns/mnt/dev/vfio" /dev/vfio) || note "no /dev/vfio ($err)"
  elif [ "$userns" = 1 ]; then
    note "no /dev/vfio: the host has none, and as an ordinary user an overlay on /dev would make every device node unusable (nodev); run as root, or pass --no-dev"
  else
    mkdir -p "$T/ns/dev.up/vfio" "$T/ns/dev.work" "$T/ns/dev.old"
    err=$(m --rbind /dev "$T/ns/dev.old") || fail "keeping the mounts under /dev: $err"
    err=$(m -t overlay vfioctl-dev -o "lowerdir=/dev,upperdir=$T/ns/dev.up,workdir=$T/ns/dev.work" /dev) || fail "the overlay on /dev (for /dev/vfio; --no-dev leaves /dev alone): $err"
    IFS='
'
    for p in $VFIOCTL_RUN_DEVSUBS; do
      err=$(m --rbind "$T/ns/dev.old$(expr "$p" : '/dev\(.*\)')" "$p") || note "$p is not mounted in the namespace ($err)"
    done
    unset IFS
    umount -l "$T/ns/dev.old" 2>/dev/null
    err=$(m --bind "$T/ns/mnt/dev/vfio" /dev/vfio) || fail "the bind mount of /dev/vfio: $err"
  fi
fi
unset VFIOCTL_RUN_SBIN VFIOCTL_RUN_DEVSUBS
export PATH="$T/ns/sbin:$PATH"
echo ready >&4
exec 3>&- 4>&-
exec "$@"
`;

/** The mounts `run` makes that keep the FUSE connection busy, as seen inside the namespace. */
function fuseMountPoints(dir: string): string[] {
  return ['/proc/modules', '/dev/vfio', '/sys', path.join(dir, 'ns', 'mnt')];
}

interface Serving {
  /** the directory for the namespace's files (shims on the host side, a tmpfs at DIR/ns inside) */
  dir: string;
  /** the command that puts `sh -c SETUP` into a new mount namespace (empty: this one) */
  spawnVia: string[];
  /** whether this process is inside the namespace already (the user-namespace case) */
  inside: boolean;
  userns: boolean;
}

/** On the host: start the run. Root serves from this process; an ordinary user needs the server inside. */
export async function runOutside(o: RunOptions, innerArgs: string[]): Promise<number> {
  const root = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-run-'));
  try {
    if (root) return await serveAndRun(o, { dir, spawnVia: ['unshare', '--mount', '--propagation', 'private', '--'], inside: false, userns: false });
    const args = ['--user', '--map-root-user', '--mount', '--propagation', 'private', '--', o.node, o.bin, ...innerArgs];
    const env = { ...o.env, [ENV_INSIDE]: dir, [ENV_HOST_NS]: mountNamespace() };
    return await waitFor(spawn('unshare', args, { stdio: 'inherit', env }), o, 'unshare');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Inside the user namespace (started by runOutside): serve and run. */
export async function runInside(o: RunOptions): Promise<number> {
  const dir = o.env[ENV_INSIDE]!;
  const here = mountNamespace();
  if (here === o.env[ENV_HOST_NS] || here === safeNs(1)) throw new SetupError(`refusing to mount over /sys: this process is not in a private mount namespace (${here})`);
  return serveAndRun(o, { dir, spawnVia: [], inside: true, userns: true });
}

function waitFor(child: import('node:child_process').ChildProcess, o: RunOptions, what: string): Promise<number> {
  const release = superviseChild(child);
  return new Promise<number>((res) => {
    child.on('error', (e) => {
      o.stderr(`vfioctl: cannot start ${what}: ${e.message}\n`);
      res(1);
    });
    child.on('close', (code, sig) => res(exitStatus(code, sig)));
  }).finally(release);
}

async function serveAndRun(o: RunOptions, s: Serving): Promise<number> {
  const events: TraceEvent[] = [];
  const tracing = o.explain || o.traceFile !== undefined;
  fs.mkdirSync(path.join(s.dir, 'shims'), { recursive: true });
  fs.mkdirSync(path.join(s.dir, 'ns'), { recursive: true });
  for (const tool of KMOD_TOOLS) fs.writeFileSync(path.join(s.dir, 'shims', tool), shimScript(tool, o.node, o.bin, o.statePath), { mode: 0o755 });

  const fd = fs.openSync('/dev/fuse', 'r+');
  const ops = new FuseOps(stateBackend(o.statePath, o.lockTimeoutMs), { layout: 'machine', comm: commOf, ...(tracing ? { trace: (e: TraceEvent) => void events.push(e) } : {}) });
  let setupDone = false;
  const env: Record<string, string | undefined> = {
    ...o.env,
    VFIOCTL_STATE: o.statePath,
    VFIOCTL_RUN_SBIN: sbinDirs().join(' '),
    VFIOCTL_RUN_DEVSUBS: submounts('/dev').join('\n'),
  };
  delete env[ENV_INSIDE];
  delete env[ENV_HOST_NS];
  const shArgs = ['sh', '-c', SETUP, 'sh', s.dir, o.quiet ? '1' : '0', o.noDev ? '1' : '0', s.userns ? '1' : '0', mountOptions(true), ...o.cmd];
  const [cmd, ...args] = [...s.spawnVia, ...shArgs] as [string, ...string[]];
  const child = spawn(cmd, args, { stdio: ['inherit', 'inherit', 'inherit', fd, 'pipe'], env });
  let ready = false;
  (child.stdio[4] as NodeJS.ReadableStream).on('data', (d: Buffer) => void (ready ||= d.toString().startsWith('ready')));
  const exited = waitFor(child, o, s.spawnVia[0] ?? 'sh').then((st) => {
    setupDone = true;
    return st;
  });
  // As root this process only serves while CMD runs: blocking reads on this thread, no
  // thread hop per request. The connection ends when the namespace does (CMD and what it
  // left behind have exited); the user-namespace server detaches its mounts itself.
  const served = serve(fd, ops, { abandoned: () => setupDone, blocking: () => !s.inside }).finally(() => fs.closeSync(fd));
  const status = await exited;
  if (s.inside) for (const p of fuseMountPoints(s.dir)) await runTool('umount', ['-l', '--no-canonicalize', p]);
  const slow = setTimeout(() => o.stderr('vfioctl: processes started by the command still use the simulated /sys; serving it until they end\n'), 2000);
  await served;
  clearTimeout(slow);
  if (!ready) throw new SetupError('the namespace could not be set up (see above); nothing on the host was changed');
  if (tracing) {
    const text = traceText(events);
    if (o.traceFile) fs.writeFileSync(o.traceFile, text);
    if (o.explain) o.stderr(text.length ? `\nsysfs accesses (in order, with the kernel's answer):\n${text}` : '\nno sysfs accesses\n');
  }
  return status;
}

function safeNs(pid: number): string | undefined {
  try {
    return mountNamespace(pid);
  } catch {
    return undefined;
  }
}

/** One line per access: `pid  write PATH "data" → ERRNO`, with the kernel lines it logged. */
export function traceText(events: readonly TraceEvent[]): string {
  const show = (s: string): string => JSON.stringify(s.length > 200 ? s.slice(0, 200) + '…' : s);
  return events
    .map((e) => {
      const data = e.data === undefined ? '' : e.op === 'read' ? '' : ` ${show(e.data)}`;
      const result = e.op === 'read' && e.data !== undefined ? show(e.data) : e.result;
      const dmesg = (e.dmesg ?? []).map((l) => `        dmesg: ${l}\n`).join('');
      return `${String(e.pid).padStart(7)}  ${e.op} ${e.path}${data} → ${result}\n${dmesg}`;
    })
    .join('');
}

