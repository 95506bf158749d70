/**
 * run, mount, umount (and the hidden __kmod the shims call): the simulated machine as a
 * real FUSE filesystem. The protocol, the server and the namespace code are in src/fuse/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { Out } from '../main.js';
import { withMachine, activeStatePath, lockTimeoutMs } from '../session.js';
import { UsageError } from '../../base/errors.js';
import { CommandFailed } from '../output.js';
import { REPO_ROOT } from '../context.js';

const BIN = path.join(REPO_ROOT, 'bin', 'vfioctl');

/** the state file the filesystem serves: it must exist (the default machine boots on first use) */
async function ensureState(o: Out): Promise<string> {
  await withMachine(o.ctx, o.g, 'read', () => undefined);
  return activeStatePath(o.ctx, o.g);
}

function uid(): number {
  return process.getuid?.() ?? 0;
}

export interface RunFlags {
  dev?: boolean;
  trace?: string;
}

export async function runCmd(o: Out, cmd: string[], flags: RunFlags): Promise<void> {
  if (cmd.length === 0) throw new UsageError('run needs a command', 'vfioctl run -- driverctl -b platform list-devices');
  const ns = await import('../../fuse/namespace.js');
  const inside = o.ctx.env[ns.ENV_INSIDE] !== undefined;
  const statePath = inside ? activeStatePath(o.ctx, o.g) : await ensureState(o);
  const traceFile = flags.trace === undefined ? undefined : path.resolve(o.ctx.cwd, flags.trace);
  const opts = {
    statePath,
    cmd,
    noDev: flags.dev === false,
    explain: o.g.explain === true,
    traceFile,
    quiet: o.g.quiet === true,
    lockTimeoutMs: lockTimeoutMs(o.ctx),
    node: process.execPath,
    bin: BIN,
    env: o.ctx.env,
    stderr: (s: string) => o.ctx.stderr.write(s),
  };
  if (inside) {
    let status: number;
    try {
      status = await ns.runInside(opts);
    } catch (e) {
      if (e instanceof ns.SetupError) throw new CommandFailed(`run: ${e.message}`, 1, 'nothing on the host was changed; the namespace and its mounts are gone');
      throw e;
    }
    if (status !== 0) throw new CommandFailed('', status);
    return;
  }
  const missing = ns.runMissing(uid());
  if (missing) throw new CommandFailed(`run: cannot serve the simulated /sys here: ${missing}`, 1);
  if (statePath === '/sys' || statePath.startsWith('/sys/')) throw new UsageError(`the state file ${statePath} is under /sys, which run replaces`, 'keep the state file elsewhere (--state FILE)');
  const inner = ['--state', statePath, ...(o.g.quiet ? ['-q'] : []), ...(o.g.explain ? ['--explain'] : []), 'run', ...(flags.dev === false ? ['--no-dev'] : []), ...(traceFile ? ['--trace', traceFile] : []), '--', ...cmd];
  const status = await ns.runOutside(opts, inner);
  if (status !== 0) throw new CommandFailed('', status);
}

export interface MountFlags {
  foreground?: boolean;
  readyFd?: string;
}

/** Why `dir` cannot take the mount, or null. */
async function mountRefusal(dir: string, statePath: string): Promise<string | null> {
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch {
    return `${dir} does not exist`;
  }
  if (!fs.statSync(real).isDirectory()) return `${dir} is not a directory`;
  const { mountNamespace } = await import('../../fuse/namespace.js');
  if (real === '/sys') {
    let hostNs = false;
    try {
      hostNs = mountNamespace() === mountNamespace(1);
    } catch {
      hostNs = true;
    }
    if (hostNs) return 'refusing to mount over /sys outside a private mount namespace: the host needs its /sys; use vfioctl run -- CMD, or unshare --mount first';
  } else if (fs.readdirSync(real).length > 0) return `${dir} is not empty: mount over an empty directory`;
  const st = path.resolve(statePath);
  if (st === real || st.startsWith(real + '/')) return `the state file ${statePath} is inside ${dir}: the server would wait on itself`;
  if (uid() !== 0) return 'mounting needs root (mount(8) attaches the FUSE connection); as an ordinary user, vfioctl run gives a namespace of your own';
  return null;
}

export async function mountCmd(o: Out, dir: string, flags: MountFlags): Promise<void> {
  const statePath = await ensureState(o);
  const server = await import('../../fuse/server.js');
  const missing = server.fuseMissing();
  if (missing) throw new CommandFailed(`mount: ${missing}`, 1);
  const refused = await mountRefusal(dir, statePath);
  if (refused) throw new CommandFailed(`mount: ${refused}`, 1);
  const real = fs.realpathSync(dir);
  if (!flags.foreground) return daemonize(o, real);
  const ready = flags.readyFd === undefined ? null : Number(flags.readyFd);
  let m: Awaited<ReturnType<typeof server.mountAt>>;
  try {
    m = await server.mountAt({ statePath, layout: 'sys', dir: real, lockTimeoutMs: lockTimeoutMs(o.ctx), allowOther: true });
  } catch (e) {
    if (ready !== null) fs.writeSync(ready, `error: ${(e as Error).message}\n`);
    throw new CommandFailed(`mount: ${(e as Error).message}`, 1);
  }
  if (ready !== null) {
    fs.writeSync(ready, `ready\n`);
    fs.closeSync(ready);
  } else o.note(`serving ${statePath} at ${real} (pid ${process.pid}); end with: vfioctl umount ${real}`);
  // a terminal's ^C ends the server by unmounting, as a FUSE daemon in the foreground does
  const stop = (): void => void server.runTool('umount', ['-l', real]);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    await m.done;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** Start the server in the background and return once its mount is ready, reporting its pid. */
async function daemonize(o: Out, dir: string): Promise<void> {
  const args = [BIN, ...(o.g.state ? ['--state', o.g.state] : []), '-q', 'mount', '--foreground', '--ready-fd', '3', dir];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'pipe'], env: o.ctx.env });
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  let said = '';
  pipe.on('data', (d: Buffer) => (said += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  await new Promise<void>((res) => pipe.on('close', () => res()));
  if (!said.startsWith('ready')) {
    const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
    throw new CommandFailed(`mount: ${said.replace(/^error: /, '').trim() || `the server ended (status ${code ?? '?'}) before the mount was ready`}`, 1);
  }
  child.unref();
  o.emit({ dir, pid: child.pid ?? null }, `mounted the simulated /sys at ${dir} (server pid ${child.pid})\nend with: vfioctl umount ${dir}\n`);
}

export async function umountCmd(o: Out, dir: string): Promise<void> {
  const real = path.resolve(o.ctx.cwd, dir);
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '));
  if (!mounts.some((f) => f[1] === real && f[2] === 'fuse.vfioctl')) throw new CommandFailed(`umount: ${real} is not a vfioctl mount`, 1, 'vfioctl mounts are listed by: grep fuse.vfioctl /proc/self/mounts');
  const { runTool } = await import('../../fuse/server.js');
  const r = await runTool('umount', [real]);
  if (r.status !== 0) throw new CommandFailed(`umount: ${r.stderr || `umount exited with status ${r.status}`}`, 1, 'a process still uses it (cwd or open file); umount -l detaches it anyway');
  o.emit({ dir: real }, `unmounted ${real}; its server ends\n`);
}

/** The shims' entry: `vfioctl __kmod modprobe|rmmod|lsmod ARGS…`, kmod's output and status. */
export async function kmodCmd(o: Out, tool: string, args: string[]): Promise<void> {
  const { kmod, KMOD_TOOLS } = await import('../../fuse/kmod.js');
  if (!(KMOD_TOOLS as readonly string[]).includes(tool)) throw new UsageError(`__kmod: unknown tool ${tool}`);
  const r = kmod(tool as (typeof KMOD_TOOLS)[number], args, { statePath: activeStatePath(o.ctx, o.g), lockTimeoutMs: lockTimeoutMs(o.ctx) });
  o.ctx.stdout.write(r.stdout);
  o.ctx.stderr.write(r.stderr);
  if (r.status !== 0) throw new CommandFailed('', r.status);
}
