/** Rendering helpers: colour (only on a TTY, never with NO_COLOR/--no-color), tables, errors. */
import type { Context } from './context.js';
import { KernelError, UsageError, StateError } from '../base/errors.js';
import { TreeError } from '../devicetree/tree.js';
import type { Step } from './sys.js';
import { hintFor } from './hints.js';
import { Stopped } from './stopped.js';

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
}

const plain: Style = { bold: (s) => s, dim: (s) => s, red: (s) => s, green: (s) => s, yellow: (s) => s, cyan: (s) => s, magenta: (s) => s };

export function colorWanted(ctx: Context, noColorFlag: boolean, stream: 'stdout' | 'stderr'): boolean {
  if (noColorFlag) return false;
  if (ctx.env['NO_COLOR'] !== undefined && ctx.env['NO_COLOR'] !== '') return false;
  return stream === 'stdout' ? ctx.stdoutIsTTY : ctx.stderrIsTTY;
}

/** chalk is loaded only when colour will actually be used. */
export async function makeStyle(enabled: boolean): Promise<Style> {
  if (!enabled) return plain;
  const { Chalk } = await import('chalk');
  const c = new Chalk({ level: 1 });
  return { bold: c.bold, dim: c.dim, red: c.red, green: c.green, yellow: c.yellow, cyan: c.cyan, magenta: c.magenta };
}

export function plainStyle(): Style {
  return plain;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(rows: string[][], style?: (col: number, cell: string, row: number) => string): string {
  if (rows.length === 0) return '';
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r, ri) =>
      r
        .map((c, i) => {
          const cell = i === r.length - 1 ? c : c.padEnd(widths[i]!);
          return style ? style(i, cell, ri) : cell;
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n') + '\n';
}

/**
 * The real-system lines of --explain. `refused`: the command failed; the lines are what a
 * real system would have run up to the write the kernel refused, which is marked.
 */
export function explainText(steps: readonly Step[], st: Style, opts: { refused?: boolean } = {}): string {
  if (steps.length === 0) return '';
  let out = opts.refused ? st.dim('# on a real system (the kernel refused the step marked REFUSED; nothing after it ran):') + '\n' : '';
  for (const s of steps) {
    const refused = opts.refused === true && s.result !== undefined && /^E[A-Z0-9]+$/.test(s.result);
    out += st.dim(`# ${s.why}`) + '\n' + s.command + (refused ? st.red(`   # → ${s.result}: REFUSED by the kernel`) : resultNote(s, st)) + '\n';
  }
  return out;
}

/** `# → value` after an explained command: errnos always; a value only when the command line does not show it already. */
function resultNote(s: Step, st: Style): string {
  const r = s.result;
  if (!r || r === 'ok') return '';
  const errno = /^E[A-Z0-9]+$/.test(r);
  if (!errno && /( = | → )/.test(s.command)) return '';
  const lines = r.split('\n');
  return st.dim(`   # → ${lines[0]}${lines.length > 1 ? ` (+${lines.length - 1} more lines)` : ''}`);
}

/** Kernel log lines as a command prints them after its own lines. */
export function kernelLines(dmesg: readonly string[]): string {
  return dmesg.map((l) => `kernel: ${l}\n`).join('');
}

/** Exit statuses (documented in --help and README). */
export const EXIT = { OK: 0, REFUSED: 1, USAGE: 2, TREE: 3, STATE: 4, INTERNAL: 70, OUTPUT: 74 } as const;

/**
 * A command that ends with a status of its own: `run` passes on its command's status (no
 * message), `run`/`mount` say what the machine lacks (exit 1).
 */
export class CommandFailed extends Error {
  constructor(message: string, readonly status: number, readonly hint?: string) {
    super(message);
    this.name = 'CommandFailed';
  }
}

export interface ErrorReport {
  exit: number;
  json: Record<string, unknown>;
  lines: string[];
}

export function describeError(e: unknown): ErrorReport {
  if (e instanceof KernelError) {
    const extra = { dmesg: e.dmesg };
    const what = e.op === 'exec' ? e.message : `${e.path ? e.path + ': ' : ''}${e.op} error: ${e.message} (${e.code})`;
    const lines = [e.op === 'exec' ? `${e.message} (${e.code})` : what];
    if (extra.dmesg?.length) for (const l of extra.dmesg) lines.push(`kernel: ${l}`);
    const hint = hintFor(e);
    if (hint) lines.push(`hint: ${hint}`);
    const json: Record<string, unknown> = { code: e.code, errno: e.errno, message: e.message };
    if (e.path !== undefined) json['path'] = e.path;
    if (hint !== undefined) json['hint'] = hint;
    if (extra.dmesg?.length) json['dmesg'] = extra.dmesg;
    if (e instanceof Stopped) {
      lines.push(...e.lines());
      json['stopped'] = e.json();
    }
    return { exit: EXIT.REFUSED, json, lines };
  }
  if (e instanceof UsageError) {
    const lines = [e.message];
    if (e.hint) lines.push(`hint: ${e.hint}`);
    const json: Record<string, unknown> = { code: 'USAGE', message: e.message };
    if (e.hint) json['hint'] = e.hint;
    return { exit: EXIT.USAGE, json, lines };
  }
  if (e instanceof TreeError) {
    const json: Record<string, unknown> = { code: 'TREE', message: e.message, file: e.loc.file };
    if (e.loc.line !== undefined) json['line'] = e.loc.line;
    if (e.loc.column !== undefined) json['column'] = e.loc.column;
    if (e.loc.offset !== undefined) json['offset'] = e.loc.offset;
    return { exit: EXIT.TREE, json, lines: [e.format()] };
  }
  if (e instanceof StateError) {
    const lines = [`${e.path}: ${e.message}`];
    if (e.hint) lines.push(`hint: ${e.hint}`);
    const json: Record<string, unknown> = { code: 'STATE', message: e.message, path: e.path };
    if (e.hint) json['hint'] = e.hint;
    return { exit: EXIT.STATE, json, lines };
  }
  if (e instanceof CommandFailed) {
    const lines = e.message ? [e.message, ...(e.hint ? [`hint: ${e.hint}`] : [])] : [];
    const json: Record<string, unknown> = { code: 'FAILED', status: e.status, message: e.message };
    if (e.hint) json['hint'] = e.hint;
    return { exit: e.status, json, lines };
  }
  const msg = e instanceof Error ? e.message : String(e);
  return { exit: EXIT.INTERNAL, json: { code: 'INTERNAL', message: msg }, lines: [`internal error: ${msg}`, 'hint: this is a bug in vfioctl; rerun with VFIOCTL_DEBUG=1 for a stack trace and report it'] };
}
