/**
 * modprobe, rmmod and lsmod as kmod's tools behave, acting on the simulated machine: the
 * shims `vfioctl run` puts on /usr/sbin call these. Output and exit statuses follow kmod
 * (tools/modprobe.c, rmmod.c, lsmod.c): silence on success, `modprobe: FATAL: …` on stderr,
 * nothing at all with -q. And dmesg (util-linux), so a script reads this machine's log.
 */
import { KernelError } from '../base/errors.js';
import { modprobe, rmmod, findModuleInfo, isLoaded, canonicalModuleName, KERNEL_RELEASE } from '../base/module.js';
import type { Machine } from '../base/machine.js';
import { moduleLines } from './procfs.js';
import { serverSession } from './backend.js';
import { withState } from '../state/session.js';
import { readState } from '../state/store.js';
import { formatTimestamp } from '../klog/klog.js';

export interface KmodResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** the tools the shims stand for (dmesg too: a script reads the kernel's answer there) */
export const KMOD_TOOLS = ['modprobe', 'rmmod', 'lsmod', 'dmesg'] as const;
export type KmodTool = (typeof KMOD_TOOLS)[number];

interface Io {
  statePath: string;
  lockTimeoutMs: number;
}

const ok = (stdout = ''): KmodResult => ({ status: 0, stdout, stderr: '' });
const fail = (stderr: string, quiet = false): KmodResult => ({ status: 1, stdout: '', stderr: quiet ? '' : stderr.replace(/\n?$/, '\n') });

export async function kmod(tool: KmodTool, argv: readonly string[], io: Io): Promise<KmodResult> {
  switch (tool) {
    case 'lsmod':
      return lsmod(io);
    case 'dmesg':
      return dmesg(argv, io);
    case 'rmmod':
      return rmmodTool(argv, io);
    default:
      return modprobeTool(argv, io);
  }
}

/** lsmod: `Module  Size  Used by`, one line per module from /proc/modules */
function lsmod(io: Io): KmodResult {
  const m = readState(io.statePath);
  if (!m) return fail('lsmod: ERROR: could not open /proc/modules: No such file or directory');
  const lines = moduleLines(m).map((l) => `${l.name.padEnd(19)} ${String(l.size).padStart(8)}  ${l.refcnt}${l.usedBy.length ? ' ' + l.usedBy.join(',') : ''}\n`);
  return ok('Module                  Size  Used by\n' + lines.join(''));
}

/** dmesg (util-linux): the simulated kernel's log; -t drops timestamps, -l/--level filters */
function dmesg(argv: readonly string[], io: Io): KmodResult {
  const m = readState(io.statePath);
  if (!m) return fail('dmesg: read kernel buffer failed: No such file or directory');
  const noTime = argv.some((a) => a === '-t' || a === '--notime');
  const li = argv.findIndex((a) => a === '-l' || a === '--level');
  const names = ['emerg', 'alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug'];
  const levels = li >= 0 && argv[li + 1] ? new Set(argv[li + 1]!.split(',').map((n) => names.indexOf(n))) : null;
  const lines = m.log.filter((l) => !levels || levels.has(l.level)).map((l) => (noTime ? l.text : `${formatTimestamp(l.t)} ${l.text}`) + '\n');
  return ok(lines.join(''));
}

async function rmmodTool(argv: readonly string[], io: Io): Promise<KmodResult> {
  const names = argv.filter((a) => !a.startsWith('-'));
  if (names.length === 0) return fail('rmmod: ERROR: missing module name.');
  for (const n of names) {
    try {
      await withState(serverSession(io.statePath, io.lockTimeoutMs), 'write', (m: Machine) => rmmod(m, n));
    } catch (e) {
      if (e instanceof KernelError) return fail(e.message);
      throw e;
    }
  }
  return ok();
}

async function modprobeTool(argv: readonly string[], io: Io): Promise<KmodResult> {
  let quiet = false;
  let remove = false;
  let all = false;
  let dryRun = false;
  let firstTime = false;
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (words.length > 0 && !all && !remove) {
      words.push(a); // module parameters follow the name
      continue;
    }
    if (a === '--') {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      if (a === '--quiet') quiet = true;
      else if (a === '--remove') remove = true;
      else if (a === '--all') all = true;
      else if (a === '--dry-run' || a === '--show') dryRun = true;
      else if (a === '--first-time') firstTime = true;
      else if (/^--(config|dirname|set-version|type|wait)$/.test(a)) i++;
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (const c of a.slice(1)) {
        if (c === 'q') quiet = true;
        else if (c === 'r') remove = true;
        else if (c === 'a') all = true;
        else if (c === 'n') dryRun = true;
        else if ('CdSt'.includes(c)) i++;
      }
      continue;
    }
    words.push(a);
  }
  if (words.length === 0) return fail('modprobe: ERROR: missing parameters. See -h.');
  if (remove || all) {
    for (const name of words) {
      const r = await (remove ? removeOne(name, io, quiet, dryRun) : insertOne(name, [], io, quiet, dryRun, firstTime));
      if (r.status !== 0) return r;
    }
    return ok();
  }
  return insertOne(words[0]!, words.slice(1), io, quiet, dryRun, firstTime);
}

async function insertOne(name: string, params: string[], io: Io, quiet: boolean, dryRun: boolean, firstTime: boolean): Promise<KmodResult> {
  const args: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const p of params) {
    const eq = p.indexOf('=');
    args[eq < 0 ? p : p.slice(0, eq)] = eq < 0 ? '1' : p.slice(eq + 1);
  }
  const notFound = `modprobe: FATAL: Module ${name} not found in directory /lib/modules/${KERNEL_RELEASE}`;
  const look = (m: Machine): KmodResult | null => {
    const info = findModuleInfo(m, name);
    if (!info) return fail(notFound, quiet);
    if (firstTime && isLoaded(m, info.name)) return fail(`modprobe: ERROR: could not insert '${info.name}': Module already in kernel`, quiet);
    return null;
  };
  if (dryRun) {
    const m = readState(io.statePath);
    return (m && look(m)) ?? ok();
  }
  try {
    return await withState(serverSession(io.statePath, io.lockTimeoutMs), 'write', (m: Machine) => {
      const refused = look(m);
      if (refused) throw refused;
      modprobe(m, name, args);
      return ok();
    });
  } catch (e) {
    if (e instanceof KernelError) return fail(e.message, quiet);
    if (isResult(e)) return e;
    throw e;
  }
}

async function removeOne(name: string, io: Io, quiet: boolean, dryRun: boolean): Promise<KmodResult> {
  const n = canonicalModuleName(name);
  const check = (m: Machine): KmodResult | null => {
    const mod = m.modules.find((x) => x.name === n);
    if (!mod) return findModuleInfo(m, name) ? fail(`modprobe: FATAL: Module ${n} is not in kernel.`, quiet) : fail(`modprobe: FATAL: Module ${name} not found.`, quiet);
    if (mod.builtin) return fail(`modprobe: FATAL: Module ${n} is builtin.`, quiet);
    if (mod.holders.length > 0) return fail(`modprobe: FATAL: Module ${n} is in use.`, quiet);
    return null;
  };
  if (dryRun) {
    const m = readState(io.statePath);
    return (m && check(m)) ?? ok();
  }
  try {
    return await withState(serverSession(io.statePath, io.lockTimeoutMs), 'write', (m: Machine) => {
      const refused = check(m);
      if (refused) throw refused;
      rmmod(m, n);
      return ok();
    });
  } catch (e) {
    if (e instanceof KernelError) return fail(e.message.replace(/^rmmod: ERROR:/, 'modprobe: FATAL:'), quiet);
    if (isResult(e)) return e;
    throw e;
  }
}

function isResult(e: unknown): e is KmodResult {
  return typeof e === 'object' && e !== null && 'status' in e && 'stderr' in e;
}

/** The shim script for one tool: calls back into vfioctl with the machine's state file. */
export function shimScript(tool: KmodTool, node: string, bin: string, statePath: string): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n# ${tool} of the simulated machine (vfioctl run)\nexec ${q(node)} ${q(bin)} --state ${q(statePath)} __kmod ${tool} -- "$@"\n`;
}
