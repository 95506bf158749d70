/**
 * Compile device-tree source with the real tools: GNU cpp (only when the file uses
 * `#include`/`#define`/`#if…`) and dtc (`dtc -I dts -O yaml`). This is what the kernel's
 * scripts/Makefile.dtbs `cmd_dtc` does, except that we ask dtc for YAML, the one dtc
 * output that still says which values were strings and which cells were phandles.
 *
 * Both tools run bounded (README "Limits on input"): every include target is checked to
 * be a regular file first (dts-includes.ts); each tool then runs in a process group of
 * its own (a new session), started by `/bin/sh` only to set `ulimit -v` (address space)
 * and `ulimit -t` (CPU time) before it execs the tool with the arguments passed as
 * arguments (never as shell text). On timeout, on too much output, and when the tool
 * exits, the whole group is killed, so cpp's `cc1` cannot outlive it holding the pipes
 * open. A watchdog in the group kills it after the timeout even if vfioctl itself dies.
 * dtc's and cpp's own error messages are turned into TreeErrors at the `file:line:column`
 * they name.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { TreeError } from '../tree.js';
import type { SourceLoc } from '../tree.js';
import { decodeUtf8, readBoundedFile } from './file.js';
import { checkIncludes } from './dts-includes.js';

/** Longest we let cpp or dtc run. */
export const TOOL_TIMEOUT_MS = 120_000;
/** Most address space cpp (with cc1) or dtc may map: far more than a kernel board needs (tens of MB). */
export const TOOL_MEMORY_KIB = 1024 * 1024;

/** Bounds for one compile; the defaults above unless a caller (a test) narrows them. */
export interface ToolLimits {
  timeoutMs?: number;
  memoryKiB?: number;
}

/**
 * The shell text that bounds a tool and then becomes it: `$0` is the tool, `"$@"` its
 * arguments. The watchdog sleeps in the background with no pipe of ours open and kills
 * the whole group (`kill 0`) if the tool is still there after the timeout.
 */
function limitScript(timeoutMs: number, memoryKiB: number): string {
  const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
  return `ulimit -v ${memoryKiB} 2>/dev/null; ulimit -t ${secs} 2>/dev/null; ` +
    `(sleep ${secs + 1} && kill -s KILL 0) </dev/null >/dev/null 2>&1 & exec "$0" "$@"`;
}

/** Exit status of `sh` when exec cannot find the tool. */
const NOT_FOUND = 127;

/** SIGKILL a tool's whole process group (it leads a session of its own). */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}
/**
 * Most output we accept from cpp or dtc. Far more than the full YAML parser takes
 * anyway (yaml-lite.ts MAX_FULL_YAML_VALUES), and well below V8's longest string.
 */
const MAX_TOOL_OUTPUT = 128 * 1024 * 1024;

const DTC_MISSING = 'dtc (the device tree compiler) is not installed; install Debian\'s package: apt-get install device-tree-compiler';
const CPP_MISSING = 'cpp (the C preprocessor, needed for #include in device-tree source) is not installed; install Debian\'s package: apt-get install cpp';

/** A line that is a C preprocessor directive (not a `#address-cells` style property). */
const CPP_DIRECTIVE = /^[ \t]*#[ \t]*(include|define|undef|if|ifdef|ifndef|elif|else|endif|error|warning|pragma)(?=[ \t<"(]|$)/m;

/** True if the source needs cpp before dtc (kernel-style `#include <dt-bindings/…>`, macros, `#if`). */
export function needsCpp(source: string): boolean {
  return CPP_DIRECTIVE.test(source);
}

interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  spawnError?: NodeJS.ErrnoException;
  /** killed by our timer */
  timedOut?: boolean;
  /** killed for writing more than MAX_TOOL_OUTPUT */
  tooMuch?: boolean;
}

/** Collect a stream into a string, calling `tooMuch` if it brings more than MAX_TOOL_OUTPUT bytes. */
function collect(stream: Readable | null, tooMuch: () => void): Promise<string> {
  return new Promise((resolve) => {
    if (!stream) return resolve('');
    const parts: Buffer[] = [];
    let size = 0;
    stream.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_TOOL_OUTPUT) tooMuch();
      else parts.push(b);
    });
    stream.on('error', () => resolve(Buffer.concat(parts).toString('utf8')));
    stream.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
  });
}

/**
 * Spawn one tool, bounded (see the header); stdin is ignored or fed from `input`. With
 * `pipedOut` its stdout is left for the caller to pipe on instead of being collected.
 */
function startTool(
  cmd: string,
  args: string[],
  opts: { input?: Readable | undefined; pipedOut?: boolean; limits?: ToolLimits | undefined } = {},
): { child: ChildProcess; done: Promise<ToolResult> } {
  const input = opts.input;
  const timeoutMs = opts.limits?.timeoutMs ?? TOOL_TIMEOUT_MS;
  const memoryKiB = opts.limits?.memoryKiB ?? TOOL_MEMORY_KIB;
  const child = spawn('/bin/sh', ['-c', limitScript(timeoutMs, memoryKiB), cmd, ...args], {
    stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let timedOut = false;
  let tooMuch = false;
  // Our own timer rather than spawn's `timeout`: that one kills only the child, not its group.
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, timeoutMs);
  timer.unref();
  if (input && child.stdin) {
    child.stdin.on('error', () => undefined); // EPIPE when the tool exits early; its stderr says why
    input.pipe(child.stdin);
  }
  const overflow = (): void => {
    tooMuch = true;
    killGroup(child);
  };
  const done = new Promise<ToolResult>((resolve) => {
    let spawnError: NodeJS.ErrnoException | undefined;
    const out = opts.pipedOut ? Promise.resolve('') : collect(child.stdout, overflow);
    const err = collect(child.stderr, overflow);
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e;
    });
    // The tool is gone: whatever it left in its group (cc1, the watchdog) goes too, which
    // closes the pipes they held, so 'close' follows.
    child.on('exit', () => killGroup(child));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      void Promise.all([out, err]).then(([stdout, stderr]) => {
        const r: ToolResult = { code, signal, stdout, stderr };
        if (spawnError) r.spawnError = spawnError;
        if (timedOut) r.timedOut = true;
        if (tooMuch) r.tooMuch = true;
        resolve(r);
      });
    });
  });
  return { child, done };
}

/** dtc positions: `file:LINE.COL`, `file:LINE.COL-COL`, `file:LINE.COL-LINE.COL` (cf. srcpos_string()). */
const DTC_POS = /^(?:Error: |Warning: )?(.+?):(\d+)\.(\d+)(?:-\d+(?:\.\d+)?)?:?\s+(.*)$/;
/** cpp positions: `file:LINE:COL: error: …` */
const CPP_POS = /^(.+?):(\d+):(\d+): (?:fatal )?error: (.*)$/;
/** dtc's closing lines that add nothing to the first error. */
const DTC_GENERIC = /^(FATAL ERROR: Unable to parse input tree|ERROR: Input tree has errors, aborting.*)$/;

/**
 * Where `/include/ "name"` appears in the top-level source: dtc reports a missing
 * include without a position (`FATAL ERROR: Couldn't open "x.dtsi"`).
 */
function includeLoc(source: string | undefined, stderr: string, file: string): SourceLoc {
  const m = /Couldn't open "([^"]+)"/.exec(stderr);
  if (!m || source === undefined) return { file };
  const lines = source.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const col = (lines[i] ?? '').indexOf(`/include/ "${m[1] ?? ''}"`);
    if (col >= 0) return { file, line: i + 1, column: col + 1 };
  }
  return { file };
}

/** Turn dtc's stderr into a TreeError at the first position dtc named. */
export function dtcError(stderr: string, file: string, status: string, source?: string): TreeError {
  const lines = stderr.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  const located = lines.findIndex((l) => DTC_POS.test(l));
  const m = located >= 0 ? DTC_POS.exec(lines[located] ?? '') : null;
  if (m) {
    const [, f = file, line = '0', col = '0', text = ''] = m;
    const rest = lines.filter((l, i) => i !== located && !DTC_GENERIC.test(l));
    const more = rest.length > 0 ? '\n' + rest.map((l) => `  ${l}`).join('\n') : '';
    return new TreeError(`dtc: ${text}${more}`, { file: f, line: Number(line), column: Number(col) });
  }
  const text = lines.filter((l) => !DTC_GENERIC.test(l)).join('\n  ') || lines.join('\n  ') || `dtc failed (${status}) without a message`;
  const hint = /Couldn't open/.test(text) ? ' (pass the directory that holds it as an include directory)' : '';
  return new TreeError(`dtc: ${text}${hint}`, includeLoc(source, stderr, file));
}

/** Turn cpp's stderr into a TreeError at the first `file:line:col: error:` it printed. */
export function cppError(stderr: string, file: string, status: string): TreeError {
  const lines = stderr.split('\n').map((l) => l.trimEnd());
  for (const l of lines) {
    const m = CPP_POS.exec(l);
    if (!m) continue;
    const [, f = file, line = '0', col = '0', text = ''] = m;
    const hint = /No such file or directory/.test(text) && /#include|\.h\b/.test(l + text)
      ? ' (give the directory that holds it as an include directory)'
      : '';
    return new TreeError(`cpp: ${text}${hint}`, { file: f, line: Number(line), column: Number(col) });
  }
  const text = lines.filter((l) => l.trim() !== '').join('\n  ') || `cpp failed (${status}) without a message`;
  return new TreeError(`cpp: ${text}`, { file });
}

function statusOf(r: ToolResult): string {
  return r.signal ? `killed by ${r.signal}` : `exit status ${r.code ?? '?'}`;
}

/** Which bound stopped a tool, if one did (README "Limits on input"). */
function limitHit(r: ToolResult, which: 'cpp' | 'dtc', limits: ToolLimits | undefined): string | null {
  const secs = (limits?.timeoutMs ?? TOOL_TIMEOUT_MS) / 1000;
  if (r.timedOut) return `${which} did not finish within ${secs} s, the limit for preprocessing and compiling a .dts; nothing was loaded`;
  if (r.tooMuch) return `${which} wrote more than ${MAX_TOOL_OUTPUT / 1048576} MiB, the limit for a .dts; nothing was loaded`;
  if (r.signal === 'SIGXCPU') return `${which} used more than ${Math.ceil(secs)} s of CPU time, the limit for a .dts`;
  const mib = (limits?.memoryKiB ?? TOOL_MEMORY_KIB) / 1024;
  if (/memory exhausted|out of memory|cannot allocate|Cannot allocate memory/i.test(r.stderr) || r.signal === 'SIGSEGV' || r.signal === 'SIGABRT') {
    return `${which} ran out of memory within ${mib} MiB, the limit for a .dts (does it include a huge or endless file?)`;
  }
  return null;
}

/** Throw the right TreeError for a tool that did not succeed; return its stdout otherwise. */
function checkTool(r: ToolResult, which: 'cpp' | 'dtc', file: string, source?: string, limits?: ToolLimits): string {
  if (r.spawnError) throw new TreeError(`cannot run ${which}: ${r.spawnError.message}`, { file });
  if (r.code === NOT_FOUND && /not found/.test(r.stderr)) throw new TreeError(which === 'dtc' ? DTC_MISSING : CPP_MISSING, { file });
  const hit = limitHit(r, which, limits);
  if (hit) throw new TreeError(hit, { file });
  if (r.code !== 0) throw which === 'dtc' ? dtcError(r.stderr, file, statusOf(r), source) : cppError(r.stderr, file, statusOf(r));
  return r.stdout;
}

/** `-I`/`-i` options: the file's own directory first, then the include directories. */
function includeArgs(flag: string, file: string, includeDirs: readonly string[]): string[] {
  const dirs = [path.dirname(file), ...includeDirs];
  return dirs.flatMap((d) => [flag, d]);
}

/**
 * Compile a DTS file to dtc's YAML text. Runs `cpp … | dtc -I dts -O yaml -` when the
 * file uses preprocessor directives, else `dtc -I dts -O yaml <file>`. Throws TreeError.
 */
export async function compileDts(file: string, includeDirs: string[], limits?: ToolLimits): Promise<string> {
  const source = decodeUtf8(await readBoundedFile(file), file);
  await checkIncludes(file, source, [path.dirname(file), ...includeDirs]);
  const arg = file.startsWith('-') ? `./${file}` : file; // never let a file name pass for an option
  const dtcBase = ['-q', '-I', 'dts', '-O', 'yaml', ...includeArgs('-i', file, includeDirs), '-o', '-'];
  if (!needsCpp(source)) {
    const dtc = startTool('dtc', [...dtcBase, arg], { limits });
    return checkTool(await dtc.done, 'dtc', file, source, limits);
  }
  const cppArgs = ['-nostdinc', ...includeArgs('-I', file, includeDirs), '-undef', '-D__DTS__', '-x', 'assembler-with-cpp', arg];
  const cpp = startTool('cpp', cppArgs, { pipedOut: true, limits });
  const dtc = startTool('dtc', [...dtcBase, '-'], { input: cpp.child.stdout ?? undefined, limits });
  // If dtc cannot start or stops reading early, cpp must not block on a full pipe.
  dtc.child.on('error', () => killGroup(cpp.child));
  dtc.child.on('close', () => cpp.child.stdout?.resume());
  const [cppResult, dtcResult] = await Promise.all([cpp.done, dtc.done]);
  if (dtcResult.code === NOT_FOUND && /not found/.test(dtcResult.stderr)) throw new TreeError(DTC_MISSING, { file });
  checkTool(cppResult, 'cpp', file, undefined, limits);
  return checkTool(dtcResult, 'dtc', file, source, limits);
}
