/**
 * vfioctl completion: the bash script really run by bash (COMP_LINE/COMP_WORDS set, the
 * completion function called, COMPREPLY printed), the hidden read-only __complete, the
 * script generated from the commander program (nothing unmapped), zsh/fish syntax.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, symlinkSync, existsSync } from 'node:fs';
import path from 'node:path';
import { run, tempState, stateBytes, REPO, ok, tempDir } from './helpers.js';
import { expectRefused } from './refuse.js';
import { COMMANDS } from '../src/cli/commands/index.js';
import { completionSpec } from '../src/cli/commands/teach/completion-spec.js';

const ETH = 'fff51000.ethernet';

const lines = (s: string): string[] => s.split('\n').filter(Boolean);

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** a machine with fff51000.ethernet passed through and opened by qemu */
async function busyMachine(): Promise<string> {
  const s = tempState();
  await ok(s, '-q', 'modprobe', 'vfio-platform');
  await ok(s, '-q', 'passthrough', ETH);
  await ok(s, '-q', 'open', ETH, '--owner', 'qemu');
  return s;
}

test('completion bash, run by bash: commands, options, option values, device names from the state file', { skip: has('bash') ? false : 'bash is not installed' }, async () => {
  const s = await busyMachine();
  const other = tempState();
  await ok(other, '-q', 'load', 'p4080');
  const missing = path.join(tempDir('vfioctl-nostate-'), 'state.json');
  const dir = tempDir('vfioctl-compl-');
  const script = path.join(dir, 'vfioctl.bash');
  writeFileSync(script, await ok(s, 'completion', 'bash'));
  symlinkSync(path.join(REPO, 'bin', 'vfioctl'), path.join(dir, 'vfioctl'));
  // each case: the line typed so far, and what COMPREPLY must hold (bash's own word splitting, at ':' too)
  const cases: Record<string, [string, string]> = {
    command: ['vfioctl ov', 'override'],
    commandAfterGlobal: [`vfioctl --state ${s} --json st`, 'status start stop'],
    device: ['vfioctl unbind fff5', 'fff51000.ethernet fff52000.dma'],
    deviceWithColon: ['vfioctl unbind soc:g', 'gpio-keys'], // bash replaces only the part after ':'
    option: [`vfioctl bind ${ETH} --d`, '--driver --dry-run'],
    optionValue: [`vfioctl bind ${ETH} --driver vfio-p`, 'vfio-platform'],
    optionValueEq: ['vfioctl graph --format=m', 'mermaid'],
    subcommand: ['vfioctl sysfs ', 'cat write ls help'],
    sysfsPath: ['vfioctl sysfs cat /sys/bus/pl', '/sys/bus/platform/'],
    owner: ['vfioctl kill ', 'qemu'],
    tree: ['vfioctl load hi', 'highbank'],
    module: ['vfioctl modprobe vfio-platform-c', 'vfio-platform-calxedaxgmac'],
    loaded: ['vfioctl rmmod vfio_platform_', 'vfio_platform_base vfio_platform_calxedaxgmac'],
    policy: ['vfioctl policy ', 'generic-reset dma-exec'],
    policyOnOff: ['vfioctl policy generic-reset o', 'on off'],
    help: ['vfioctl help ov', 'override'],
    otherState: [`vfioctl --state ${other} unbind ffe101`, 'ffe101300.dma'], // --state on the line is honoured
    otherStateEq: [`vfioctl --state=${other} show ffe101`, 'ffe101300.dma'],
    shell: ['vfioctl completion ', 'bash zsh fish'],
  };
  const driver = Object.entries(cases)
    .map(([name, [line]]) => `t ${name} '${line}'`)
    .join('\n');
  const program = `
source "$1"
t() {
  COMP_LINE=$2; COMP_POINT=\${#2}
  local IFS=$' \\t\\n'
  read -ra COMP_WORDS <<< "\${2//:/ : }"
  [[ $2 == *' ' ]] && COMP_WORDS+=('')
  COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
  COMPREPLY=()
  _vfioctl
  printf '%s=%s\\n' "$1" "\${COMPREPLY[*]}"
}
${driver}
# only COMP_WORDS/COMP_CWORD (no COMP_LINE), with no state file: the default machine's names
unset COMP_LINE COMP_POINT
VFIOCTL_STATE=$2
COMP_WORDS=(vfioctl probe fff6); COMP_CWORD=2; COMPREPLY=(); _vfioctl
printf 'wordsOnly=%s\\n' "\${COMPREPLY[*]}"
`;
  const r = spawnSync('bash', ['-c', program, 'bash', script, missing], {
    encoding: 'utf8',
    cwd: dir,
    env: { PATH: `${dir}:${process.env['PATH'] ?? '/usr/bin:/bin'}`, HOME: dir, VFIOCTL_STATE: s, COMP_WORDBREAKS: `"'><=;|&(:` },
  });
  assert.equal(r.status, 0, r.stderr);
  const got = Object.fromEntries(lines(r.stdout).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const want = Object.fromEntries(Object.entries(cases).map(([name, [, reply]]) => [name, reply]));
  // only COMP_WORDS set, no state file: the default machine's names
  assert.deepEqual(got, { ...want, wordsOnly: 'fff60000.crypto fff61000.rng' });
  assert.equal(existsSync(missing), false, 'completion never creates a state file');
});

test('__complete: names from the machine, read-only; the default machine without a state file; nothing for a corrupt one', async () => {
  const s = await busyMachine();
  const before = stateBytes(s);
  assert.deepEqual(lines(await ok(s, '__complete', 'owners')), ['qemu']);
  assert.ok(lines(await ok(s, '__complete', 'devices')).includes('soc:gpio-keys'));
  const drivers = lines(await ok(s, '__complete', 'drivers'));
  assert.ok(drivers.includes('calxedaxgmac') && drivers.includes('vfio-platform') && drivers.includes('vfio-amba'));
  assert.deepEqual(lines(await ok(s, '__complete', 'loaded')), ['vfio', 'vfio_iommu_type1', 'vfio_platform_base', 'vfio_platform', 'vfio_platform_calxedaxgmac']);
  assert.ok(lines(await ok(s, '__complete', 'modules')).includes('vfio-platform'));
  assert.deepEqual(lines(await ok(s, '__complete', 'trees')), ['default', 'highbank', 'p4080', 'xgmac-twins']);
  assert.deepEqual(lines(await ok(s, '__complete', 'sysfs', '')), ['/sys/', '/dev/']);
  assert.deepEqual(lines(await ok(s, '__complete', 'sysfs', '/dev/vfio/')), ['/dev/vfio/0', '/dev/vfio/vfio']);
  assert.deepEqual(lines(await ok(s, '__complete', 'sysfs', `/sys/bus/platform/devices/${ETH}/d`)), [
    `/sys/bus/platform/devices/${ETH}/driver/`,
    `/sys/bus/platform/devices/${ETH}/driver_override`,
  ]);
  assert.deepEqual(lines(await ok(s, '__complete', 'sysfs', '/nope/x')), []);
  assert.deepEqual(JSON.parse(await ok(s, '--json', '__complete', 'owners')), { kind: 'owners', names: ['qemu'] });
  assert.deepEqual(stateBytes(s), before, 'read-only');

  const none = tempState();
  const r = await run(none, '__complete', 'devices');
  assert.equal(r.code, 0);
  assert.equal(r.stderr, '', 'no boot note');
  assert.equal(lines(r.stdout)[3], ETH);
  assert.equal(existsSync(none), false, 'no state file is created');

  const corrupt = tempState();
  writeFileSync(corrupt, '{"format": "vfioctl-st');
  const c = await run(corrupt, '__complete', 'devices');
  assert.deepEqual([c.code, c.stdout, c.stderr], [0, '', '']);
  assert.equal(stateBytes(corrupt)!.toString(), '{"format": "vfioctl-st', 'a corrupt file is left alone');
});

test('completion and __complete usage errors exit 2 and change nothing', async () => {
  const s = await busyMachine();
  const e = await expectRefused(s, 2, 'USAGE', ['__complete', 'colours']);
  assert.equal(e.message, '__complete: unknown kind "colours"');
  assert.match(e.hint!, /kinds: devices, owners, drivers, modules, loaded, trees, sysfs/);
  const sh = await expectRefused(s, 2, 'USAGE', ['completion', 'tcsh']);
  assert.match(sh.message, /'tcsh' is invalid for argument 'shell'\. Allowed choices are bash, zsh, fish/);
  await expectRefused(s, 2, 'USAGE', ['completion']);
  const human = await run(s, 'completion', 'tcsh');
  assert.equal(human.code, 2);
  assert.match(human.stderr, /^vfioctl: command-argument value 'tcsh' is invalid/);
});

test('the scripts are generated from the command definitions: every command, option and argument is covered', async () => {
  const spec = completionSpec(await Promise.all(COMMANDS.map(async (e) => (await e.load()).default)));
  assert.deepEqual(spec.unmapped, [], 'every flag taking a value says what it completes to (complete: or choices: in its definition)');
  const s = tempState();
  // the commands the spec has are the ones commander shows in --help (which lists them by group)
  const listed = (text: string): string[] => [...text.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!).sort();
  const names = (c: { subcommands: { path: string }[] }): string[] => c.subcommands.map((x) => x.path.split(' ').pop()!).sort();
  assert.deepEqual(names(spec.root), listed(await ok(s, '--help')));
  assert.deepEqual(names(spec.all.find((c) => c.path === 'sysfs')!), listed(await ok(s, 'sysfs', '--help')));
  const bash = await ok(s, 'completion', 'bash');
  const fish = await ok(s, 'completion', 'fish');
  for (const c of spec.all.filter((x) => x.path !== '')) {
    assert.ok(bash.includes(`    '${c.path}') subs=`), `bash knows ${c.path}`);
    if (c.path !== 'help' && !c.path.endsWith(' help')) assert.ok(fish.includes(`-a '${c.path.split(' ').pop()}' -d `), `fish offers ${c.path}`);
    for (const o of c.options) for (const f of o.flags) assert.ok(bash.includes(f), `bash knows ${c.path} ${f}`);
  }
  assert.ok(!bash.includes('__complete\''), 'the hidden command is not offered');
  assert.match(await ok(s, 'completion', '--help'), /source <\(vfioctl completion bash\)[\s\S]*vfioctl completion fish > ~\/\.config\/fish\/completions\/vfioctl\.fish/);
  assert.equal(existsSync(s), false, 'printing a script boots no machine');
});

for (const [shell, args] of [['zsh', ['-n']], ['fish', ['--no-execute']]] as const) {
  test(`completion ${shell}: the shell parses it`, { skip: has(shell) ? false : `${shell} is not installed (syntax check skipped)` }, async () => {
    const dir = tempDir('vfioctl-compl-');
    const file = path.join(dir, `vfioctl.${shell}`);
    writeFileSync(file, await ok(tempState(), 'completion', shell));
    const r = spawnSync(shell, [...args, file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
}

test('completion fish, run by fish: commands, device names from the state file, lesson names', { skip: has('fish') ? false : 'fish is not installed' }, async () => {
  const s = await busyMachine();
  const dir = tempDir('vfioctl-fish-');
  const file = path.join(dir, 'vfioctl.fish');
  writeFileSync(file, await ok(s, 'completion', 'fish'));
  const before = stateBytes(s);
  const complete = (line: string): string[] => {
    const r = spawnSync('fish', ['--no-config', '-c', `source ${file}; complete -C ${JSON.stringify(line)}`], {
      encoding: 'utf8',
      env: { PATH: `${path.join(REPO, 'bin')}:${process.env['PATH'] ?? '/usr/bin:/bin'}`, HOME: dir, VFIOCTL_STATE: s },
    });
    assert.equal(r.status, 0, r.stderr);
    return lines(r.stdout).map((l) => l.split('\t')[0]!);
  };
  assert.deepEqual(complete('vfioctl ov'), ['override']);
  assert.deepEqual(complete('vfioctl unbind fff5'), ['fff51000.ethernet', 'fff52000.dma']);
  assert.deepEqual(complete('vfioctl kill '), ['qemu']);
  assert.ok(complete('vfioctl lesson ').includes('passthrough'));
  assert.deepEqual(stateBytes(s), before, 'completing never writes the state');
});
