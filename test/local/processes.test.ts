import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cmdlineMatches, isRunning } from '../../lib/local/processes';

describe('isRunning with a marker', () => {
  it('counts a child of ours whose command line still reads empty (inside execve) as running', () => {
    // GIVEN the empty command line of a process in the middle of its exec
    // THEN it is ours only if we are its parent (a kernel thread or another's process also reads empty)
    expect(cmdlineMatches('', '_local-lb', 4242, 4242)).toBe(true);
    expect(cmdlineMatches('', '_local-lb', 2, 4242)).toBe(false);
    expect(cmdlineMatches('', '_local-lb', undefined, 4242)).toBe(false);
  });

  it('matches a command line by its marker, whoever the parent', () => {
    expect(cmdlineMatches('node cli.ts _local-lb --port 1', '_local-lb', 4242, 4242)).toBe(true);
    expect(cmdlineMatches('node server.ts', '_local-lb', 4242, 4242)).toBe(false);
    expect(cmdlineMatches('node cli.ts _local-lb --port 1', '_local-lb', 1, 4242)).toBe(true);
  });

  it('tells a live child by its marker, right after it is spawned and after it exits', async () => {
    // GIVEN a child process, checked as soon as it is spawned (the moment a fleet checks its load balancer)
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)', 'stackshift-marker']);
    await new Promise<void>((resolve) => child.once('spawn', resolve));
    expect(isRunning(child.pid!, 'stackshift-marker')).toBe(true);
    expect(isRunning(child.pid!, 'another-marker')).toBe(false);
    // WHEN it exits THEN it is not running, marker or not
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    expect(isRunning(child.pid!, 'stackshift-marker')).toBe(false);
  });
});
