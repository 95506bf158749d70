/**
 * Run one small program to its end and take its exit status: flock(1) for the lock
 * (lock.ts), with one fd of ours passed down as its fd 3 and nothing read from it.
 *
 * Why not `child_process.spawnSync`: requiring node:child_process loads net, dgram and
 * streams, about 8 ms, on every mutating command, for a child that takes 3 ms. The
 * spawnSync that module offers is a thin layer over the runtime's own synchronous spawn
 * (`process.binding('spawn_sync')`, the same call it makes); that is used when it is
 * there and answers as expected, and child_process otherwise (another runtime, a Node
 * that dropped it, `--pending-deprecation`, which would print a warning for it).
 */
import { createRequire } from 'node:module';

export interface ChildResult {
  /** its exit status; null when it did not exit by itself */
  status: number | null;
  signal: string | null;
  /** it could not be started (not installed, not executable) */
  failed: boolean;
}

interface SpawnSyncBinding {
  spawn(o: object): { status: number | null; signal: string | null; error?: number; pid: number };
}

let binding: SpawnSyncBinding | null | undefined;

function spawnBinding(): SpawnSyncBinding | null {
  if (binding !== undefined) return binding;
  binding = null;
  const p = process as unknown as { binding?: (name: string) => unknown; execArgv: string[] };
  const pending = p.execArgv.includes('--pending-deprecation') || (process.env['NODE_OPTIONS'] ?? '').includes('--pending-deprecation') || process.env['NODE_PENDING_DEPRECATION'] === '1';
  if (typeof p.binding !== 'function' || pending) return null;
  try {
    const b = p.binding('spawn_sync') as Partial<SpawnSyncBinding> | undefined;
    if (b && typeof b.spawn === 'function') binding = b as SpawnSyncBinding;
  } catch {
    // not offered by this runtime
  }
  return binding;
}

/** Run `file args…` with stdin/stdout/stderr on /dev/null and `fd` as its fd 3; at most timeoutMs. */
export function runWithFd(file: string, args: readonly string[], fd: number, timeoutMs: number): ChildResult {
  const b = spawnBinding();
  if (b) {
    const env: string[] = [];
    for (const k in process.env) env.push(`${k}=${process.env[k]}`);
    try {
      const r = b.spawn({
        file,
        args: [file, ...args],
        envPairs: env,
        stdio: [{ type: 'ignore' }, { type: 'ignore' }, { type: 'ignore' }, { type: 'fd', fd }],
        timeout: timeoutMs,
        maxBuffer: 0,
        killSignal: 15,
        detached: false,
        windowsHide: false,
        windowsVerbatimArguments: false,
      });
      if (r && typeof r === 'object' && 'status' in r) {
        if (typeof r.error === 'number' && r.error !== 0) return { status: null, signal: null, failed: true };
        return { status: typeof r.status === 'number' ? r.status : null, signal: r.signal ?? null, failed: false };
      }
    } catch {
      // an answer of another shape: use child_process from now on
    }
    binding = null;
  }
  const { spawnSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(file, args, { stdio: ['ignore', 'ignore', 'ignore', fd], timeout: timeoutMs });
  return { status: r.status, signal: r.signal, failed: r.error !== undefined };
}

/** (for tests) whether the runtime's own spawn is used */
export const usesRuntimeSpawn = (): boolean => spawnBinding() !== null;
