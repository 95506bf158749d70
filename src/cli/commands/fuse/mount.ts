/**
 * `mount DIR [--foreground]`: the simulated /sys at a directory (for tools with a
 * configurable sysfs root), served by a background process whose pid is reported, or by
 * this one until unmounted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { defineCommand, word, type RunContext } from '../../command.js';
import { lockTimeoutMs } from '../../session.js';
import { CommandFailed } from '../../output.js';
import { BIN, servedState, uid } from './shared.js';

/** the daemon tells its parent on this fd that the mount is ready */
const READY_FD_ENV = 'VFIOCTL_MOUNT_READY_FD';

export interface MountOptions {
  dir: string;
  foreground: boolean;
}

export interface MountData {
  dir: string;
  pid: number;
  foreground: boolean;
}

/** Why `dir` cannot take the mount, or null. */
async function refusal(dir: string, statePath: string): Promise<string | null> {
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch {
    return `${dir} does not exist`;
  }
  if (!fs.statSync(real).isDirectory()) return `${dir} is not a directory`;
  if (real === '/sys') {
    const { mountNamespace } = await import('../../../fuse/namespace.js');
    let hostNs = true;
    try {
      hostNs = mountNamespace() === mountNamespace(1);
    } catch {
      // cannot tell: treat as the host
    }
    if (hostNs) return 'refusing to mount over /sys outside a private mount namespace: the host needs its /sys (vfioctl run -- CMD gives a namespace)';
  } else if (fs.readdirSync(real).length > 0) return `${dir} is not empty: mount over an empty directory`;
  const st = path.resolve(statePath);
  if (st === real || st.startsWith(real + '/')) return `the state file ${statePath} is inside ${dir}: the server would wait on itself`;
  if (uid() !== 0) return 'mounting needs root (mount(8) attaches the FUSE connection); as an ordinary user, vfioctl run gives a namespace of your own';
  return null;
}

/** Start the server in the background; return once its mount is ready. */
async function daemonize(rc: RunContext, dir: string): Promise<number> {
  const args = [BIN, ...(rc.g.state ? ['--state', rc.g.state] : []), '-q', 'mount', '--foreground', dir];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'pipe'], env: { ...rc.ctx.env, [READY_FD_ENV]: '3' } });
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  let said = '';
  pipe.on('data', (d: Buffer) => (said += d.toString()));
  await new Promise<void>((res) => pipe.on('close', () => res()));
  if (!said.startsWith('ready')) throw new CommandFailed(`mount: ${said.replace(/^error: /, '').trim() || 'the server ended before the mount was ready'}`, 1);
  child.unref();
  return child.pid!;
}

export default defineCommand({
  name: 'mount',
  group: 'fuse',
  summary: 'serve the simulated /sys at an empty directory over FUSE (in the background unless --foreground); root only',
  example: 'vfioctl mount /tmp/sys && cat /tmp/sys/bus/platform/devices/*/driver_override\nvfioctl umount /tmp/sys',
  help: 'DIR stands for /sys: DIR/bus/platform/devices/… (the links inside are relative, as in sysfs).\nRefused over a directory that is not empty, and over /sys outside a private mount namespace.',
  args: [{ name: 'dir', description: 'an empty directory (or /sys inside a private mount namespace)', complete: 'dir' }],
  flags: [{ flags: '-f, --foreground', description: 'serve from this process until unmounted (or ^C)' }],
  machine: 'none',
  options(p): MountOptions {
    return { dir: word(p, 0), foreground: p.flags['foreground'] === true };
  },
  async run(rc, o: MountOptions): Promise<MountData> {
    const statePath = await servedState(rc);
    const server = await import('../../../fuse/server.js');
    const readyEnv = rc.ctx.env[READY_FD_ENV];
    const ready = readyEnv === undefined ? null : Number(readyEnv);
    const fail = (msg: string): never => {
      if (ready !== null) fs.writeSync(ready, `error: ${msg}\n`);
      throw new CommandFailed(`mount: ${msg}`, 1);
    };
    const missing = server.fuseMissing();
    if (missing) fail(missing);
    const refused = await refusal(path.resolve(rc.ctx.cwd, o.dir), statePath);
    if (refused) fail(refused);
    const dir = fs.realpathSync(path.resolve(rc.ctx.cwd, o.dir));
    if (!o.foreground) return { dir, pid: await daemonize(rc, dir), foreground: false };
    let m: Awaited<ReturnType<typeof server.mountAt>> | undefined;
    try {
      m = await server.mountAt({ statePath, layout: 'sys', dir, lockTimeoutMs: lockTimeoutMs(rc.ctx), allowOther: true, blocking: ready !== null });
    } catch (e) {
      fail((e as Error).message);
    }
    if (ready !== null) {
      // the daemon: serves until unmounted (killing it leaves the mount answering ENOTCONN, as any FUSE daemon)
      fs.writeSync(ready, 'ready\n');
      fs.closeSync(ready);
      await m!.done;
      return { dir, pid: process.pid, foreground: true };
    }
    rc.note(`serving ${statePath} at ${dir} (pid ${process.pid}); end with: vfioctl umount ${dir}`);
    // in the foreground ^C or a TERM ends the server the way a FUSE daemon ends: by unmounting
    const stop = (): void => void server.runTool('umount', ['-l', dir]);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      await m!.done;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return { dir, pid: process.pid, foreground: true };
  },
  render: (d: MountData) => (d.foreground ? '' : `mounted the simulated /sys at ${d.dir} (server pid ${d.pid})\nend with: vfioctl umount ${d.dir}\n`),
});
