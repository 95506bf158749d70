#!/usr/bin/env node
// Startup/latency benchmark for vfioctl (run by `npm run bench`, which builds first).
// Generates own-YAML trees with 10, 1,000 and 10,000 devices into a temp dir, then times
// whole CLI invocations with spawnSync: median of RUNS runs after one warm-up, each run
// paired with a run of bare `node -e 0`. The start-up targets (issue 10): --version ≤ 1.1×,
// status --json ≤ 1.2×, override on a real 135-device board ≤ 1.3×, override on 10,000
// devices ≤ 2.5×. BENCH_ONLY=startup runs only those cases.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchTree as tree, benchDevName as devName } from './bench-tree.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'vfioctl');
const RUNS = Number(process.env.BENCH_RUNS ?? 11);
const SIZES = [10, 1000, 10000];
const tmp = mkdtempSync(path.join(tmpdir(), 'vfioctl-bench-'));
const env = { ...process.env, NO_COLOR: '1' };
delete env.VFIOCTL_STATE;


function time(args, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(args[0], args.slice(1), { env, encoding: 'utf8', ...opts });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const NODE = [process.execPath, '-e', '0'];
const baseline = [];
/**
 * One warm-up, then RUNS timed runs, each right after a run of bare `node -e 0`: the
 * ratio compares medians taken side by side, so a machine that gets busier or quieter
 * during the run moves both. argsFor(i) may vary per run.
 */
function measure(argsFor) {
  time(argsFor(-1));
  const xs = [];
  const ns = [];
  for (let i = 0; i < RUNS; i++) {
    ns.push(time(NODE));
    xs.push(time(argsFor(i)));
  }
  baseline.push(...ns);
  return { ms: median(xs), node: median(ns) };
}

const ONLY = process.env.BENCH_ONLY;
/** a real board: the Renesas Salvator-X (r8a77951), 135 devices, from the shared Linux fixtures */
const BOARD = path.join(ROOT, '..', 'shared', 'fixtures', 'linux-dts', 'boards', 'r8a77951-salvator-xs.dtb');

const rows = [];
try {
  rows.push({ name: '--version', ...measure(() => [process.execPath, BIN, '--version']), target: 'ratio', limit: 1.1 });
  const trees = {};
  for (const n of SIZES) {
    trees[n] = path.join(tmp, `bench-${n}.yaml`);
    writeFileSync(trees[n], tree(n));
  }

  const defState = path.join(tmp, 'default.json');
  time([process.execPath, BIN, '--state', defState, '-q', 'load', 'default']);
  const status = measure(() => [process.execPath, BIN, '--state', defState, 'status', '--json']);
  rows.push({ name: 'status --json (default tree)', ...status, target: 'ratio', limit: 1.2 });

  if (existsSync(BOARD)) {
    const st = path.join(tmp, 'board.json');
    time([process.execPath, BIN, '--state', st, '-q', 'load', BOARD]);
    const ms = measure((i) => [process.execPath, BIN, '--state', st, '-q', 'override', 'e6700000.dma-controller', ...((i & 1) === 0 ? ['--clear'] : ['vfio-platform'])]);
    rows.push({ name: 'override (Salvator-X, 135 devices)', ...ms, target: 'ratio', limit: 1.3 });
  } else console.log(`(skipped the real-board case: ${BOARD} is not there)`);

  for (const n of ONLY === 'startup' ? [10000] : SIZES) {
    const st = path.join(tmp, `state-${n}.json`);
    time([process.execPath, BIN, '--state', st, '-q', 'load', trees[n]]);
    const dev = devName(n >> 1);
    // alternate set / clear so every run really writes driver_override and saves the state
    const ms = measure((i) => [process.execPath, BIN, '--state', st, '-q', 'override', dev, ...((i & 1) === 0 ? ['--clear'] : ['vfio-platform'])]);
    rows.push({ name: `override (${n.toLocaleString('en-US')} devices)`, ...ms, ...(n === 10000 ? { target: 'ratio', limit: 2.5 } : {}) });
  }
  for (const n of ONLY === 'startup' ? [] : SIZES) {
    const st = path.join(tmp, `load-${n}.json`);
    const ms = measure(() => [process.execPath, BIN, '--state', st, '-q', 'load', '--force', trees[n]]);
    rows.push({ name: `load (${n.toLocaleString('en-US')} devices)`, ...ms, ...(n === 10000 ? { target: 'ms', limit: 2000 } : {}) });
  }

  // ---- FUSE (vfioctl run / mount): ratios against a tmpfs copy, not against node ----
  {
    const { fuseBenchSkip, fuseRows } = await import('./bench-fuse.mjs');
    const why = fuseBenchSkip();
    if (why) console.log(`FUSE cases skipped: ${why}`);
    else rows.push(...fuseRows({ BIN, env, RUNS, time, median }));
  }

  rows.unshift({ name: 'node -e 0 (bare, all runs)', ms: median(baseline), node: median(baseline) });
  const out = [['case', 'median ms', 'vs node', 'target', 'result']];
  let failed = 0;
  for (const r of rows) {
    const ratio = r.ms / r.node;
    let target = '', result = '';
    if (r.target === 'ratio') {
      target = `≤ ${r.limit}× ${r.vs ?? 'node'}`;
      result = ratio <= r.limit ? 'PASS' : `FAIL (${(ratio / r.limit).toFixed(2)}× over)`;
    } else if (r.target === 'ms') {
      target = `≤ ${r.limit} ms`;
      result = r.ms <= r.limit ? 'PASS' : `FAIL (${(r.ms / r.limit).toFixed(2)}× over)`;
    }
    if (result.startsWith('FAIL')) failed++;
    out.push([r.name, r.ms.toFixed(1), r.node === null ? '' : `${ratio.toFixed(2)}×${r.vs ? ' ' + r.vs : ''}`, target, result]);
  }
  const w = out[0].map((_, c) => Math.max(...out.map((row) => row[c].length)));
  console.log(`vfioctl bench: ${process.version}, median of ${RUNS} runs after one warm-up; "vs node" divides by the median of the bare-node runs interleaved with that case\n`);
  for (const row of out) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(w[c]) : cell.padStart(c < 3 ? w[c] : 0).padEnd(c < 3 ? 0 : w[c]))).join('  ').trimEnd());
  process.exitCode = failed ? 1 : 0;
} finally {
  if (!process.env.BENCH_KEEP) rmSync(tmp, { recursive: true, force: true });
  else console.log(`kept ${tmp}`);
}
