import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, type CliResult, type Stack } from './stack.js';

/** A CLI command left running, for tests that act while it runs (Ctrl-C, workers started late). */
export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  /** Resolves once stdout matches; rejects if the command exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<CliResult>;
}

export function startCli(stack: Stack, args: string[]): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], { env: stack.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    stdout: () => stdout,
    exited,
    async waitFor(pattern, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      while (!pattern.test(stdout)) {
        if (done) throw new Error(`exited before printing ${pattern}: ${stdout}${stderr}`);
        if (Date.now() > until) throw new Error(`no ${pattern} after ${timeoutMs} ms: ${stdout}${stderr}`);
        await sleep(20);
      }
    },
  };
}
