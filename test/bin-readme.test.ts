/**
 * The README is tested: every ```console block is run with the real bin/vfioctl, in the
 * sessions and from the setups its `<!-- session: …; setup: … -->` comments name, and
 * what each command prints is compared with the lines the README shows under it (the
 * format is described in test/readme-blocks.ts). A failure names the session, the block,
 * the command's README line and prints a diff with the README line of every expected line.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from './helpers.js';
import { readBlocks, sessions, sessionScript, splitOutput, outputMatches, diff, readReadme, ReadmeFormatError, type Session, type Ran } from './readme-blocks.js';

const BIN = path.join(REPO, 'bin', 'vfioctl');
const work = mkdtempSync(path.join(tmpdir(), 'vfioctl-readme-'));
after(() => rmSync(work, { recursive: true, force: true }));
const binDir = path.join(work, 'bin');
mkdirSync(binDir);
symlinkSync(BIN, path.join(binDir, 'vfioctl'));

interface SessionRun {
  ran: Ran[];
  /** what the script printed, when it stopped early */
  raw: string;
  status: number | null;
}

function runSession(s: Session): SessionRun {
  const dir = mkdtempSync(path.join(work, 'session-'));
  try {
    const env: Record<string, string> = {
      PATH: `${binDir}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      HOME: dir,
      TMPDIR: dir,
      VFIOCTL_STATE: path.join(dir, 'state.json'),
      NO_COLOR: '1',
      LANG: 'C.UTF-8',
      VFIOCTL_REPO: REPO,
      TZ: 'UTC',
    };
    const r = spawnSync('bash', ['--noprofile', '--norc', '-c', sessionScript(s, dir)], { cwd: dir, env, encoding: 'utf8', timeout: 180_000 });
    return { ran: splitOutput(s, r.stdout, dir), raw: r.stdout + r.stderr, status: r.status };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every difference between the session's commands and the README, as one report. */
function report(s: Session, r: SessionRun): string | null {
  const total = s.blocks.reduce((n, b) => n + b.commands.length, 0);
  const problems: string[] = [];
  for (const x of r.ran) {
    if (outputMatches(x.command.expected.map((e) => e.text), x.actual)) continue;
    problems.push(
      `README.md:${x.command.line} (block at README.md:${x.block.line}): $ ${x.command.text.split('\n')[0]}   [exit ${x.exit}]\n` +
        `  (- the README, + what it printed)\n${diff(x.command.expected, x.actual)}`,
    );
  }
  if (r.ran.length < total) {
    const next = s.blocks.flatMap((b) => b.commands)[r.ran.length]!;
    problems.push(`the session stopped (exit ${r.status}) before README.md:${next.line} ($ ${next.text.split('\n')[0]}); its last output:\n${r.raw.slice(-2000)}`);
  }
  if (!problems.length) return null;
  return `README session "${s.name}" (from README.md:${s.blocks[0]!.line}, setup: ${s.setup.join(' + ')}): ${problems.length} of ${total} commands differ\n\n${problems.join('\n\n')}\n`;
}

let all: Session[] = [];
let formatError: Error | null = null;
try {
  all = sessions(readBlocks(readReadme(path.join(REPO, 'README.md'))));
} catch (e) {
  if (!(e instanceof ReadmeFormatError)) throw e;
  formatError = e;
}

test('every console block of README.md says its session and setup, and the README has some', () => {
  if (formatError) assert.fail(formatError.message);
  assert.ok(all.length >= 5, `only ${all.length} sessions found`);
});

for (const s of all) {
  test(`README session "${s.name}" (README.md:${s.blocks.map((b) => b.line).join(', ')}) prints what the README shows`, () => {
    const problems = report(s, runSession(s));
    if (problems) assert.fail(problems);
  });
}

test('the README checker itself: elisions, patterns, a wrong line, a session that stops early, unannotated blocks', () => {
  assert.ok(outputMatches(['a', '…', 'd'], ['a', 'b', 'c', 'd']));
  assert.ok(outputMatches(['a', '…', 'b'], ['a', 'b']), '… may stand for no line');
  assert.ok(outputMatches(['-rw-r--r-- 1 … bind'], ['-rw-r--r-- 1 me me 0 Jan  1 00:00 bind']));
  assert.ok(!outputMatches(['a', 'b'], ['a', 'c']));
  assert.ok(!outputMatches(['a'], ['a', 'extra']));
  assert.ok(!outputMatches(['x … y'], ['x y z']));

  const readme = [
    '<!-- session: t; setup: default machine -->',
    '```console',
    '$ vfioctl --version',
    '0.0.0-not-this',
    '$ cat > f.txt <<EOF',
    '> one',
    '> EOF',
    '$ cat f.txt; echo $?',
    'one',
    '0',
    '$ echo /tmp/x',
    '/tmp/x',
    '$ false',
    '$ echo $?',
    '1',
    '```',
  ].join('\n');
  const [s] = sessions(readBlocks(readme));
  const r = runSession(s!);
  const text = report(s!, r);
  assert.ok(text, 'a wrong expected line must be reported');
  assert.match(text, /README session "t".*1 of 6 commands differ/);
  assert.match(text, /README\.md:3 \(block at README\.md:2\): \$ vfioctl --version {3}\[exit 0\]/);
  assert.match(text, /- 0\.0\.0-not-this {3}\(README\.md:4\)\n {2}\+ \d+\.\d+\.\d+/);

  const [stops] = sessions(readBlocks('<!-- session: u; setup: shell: false -->\n```console\n$ true\n```\n'));
  assert.match(report(stops!, runSession(stops!)) ?? '', /the session stopped \(exit 99\) before README\.md:3[\s\S]*setup failed: shell: false/);

  assert.throws(() => readBlocks('text\n\n```console\n$ true\n```\n'), /README\.md:3: console block without a "<!-- session/);
  assert.throws(() => sessions(readBlocks('<!-- session: v -->\n```console\n$ true\n```\n')), /first block of session "v" says no setup/);
  assert.throws(() => sessions(readBlocks('<!-- session: w; setup: a fresh cat -->\n```console\n$ true\n```\n')), /unknown setup "a fresh cat"/);
});
