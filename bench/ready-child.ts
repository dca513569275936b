import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

/** A long-running child process (a worker) that has said it is ready. */
export interface ReadyChild {
  child: ChildProcess;
  /** The last few KB of its stderr, for error messages. */
  stderrTail(): string;
  /** Sends `signal` (SIGTERM: a worker's graceful stop) and waits for the exit; `exit 0`, `exit 1`, `SIGKILL`… */
  stop(signal?: NodeJS.Signals): Promise<string>;
}

/** How much of a child's log an error message quotes. */
const TAIL_BYTES = 8192;

/**
 * Spawns `node <args>` with its stderr going to the file `logPath`, and resolves once that file
 * contains `readyText` (workers log "worker started" there). A file rather than a pipe: the
 * benchmark's own process (which runs the emulator, and whose CPU is measured) never has to read a
 * worker's log lines, and the log is there to read after a failure.
 */
export async function spawnReady(
  args: string[],
  env: NodeJS.ProcessEnv,
  readyText: string,
  logPath: string,
  timeoutMs = 30_000,
): Promise<ReadyChild> {
  const log = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', log] });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(log);
  }
  const tail = (): string => {
    const size = statSync(logPath).size;
    return readFileSync(logPath)
      .subarray(Math.max(0, size - TAIL_BYTES))
      .toString();
  };
  const handle: ReadyChild = {
    child,
    stderrTail: tail,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        await once(child, 'exit');
      }
      return child.signalCode ?? `exit ${child.exitCode}`;
    },
  };
  const until = Date.now() + timeoutMs;
  while (!readFileSync(logPath, 'utf8').includes(readyText)) {
    if (child.exitCode !== null)
      throw new Error(`${args.join(' ')} exited (${child.exitCode}) before it was ready: ${tail()}`);
    if (Date.now() > until) {
      await handle.stop('SIGKILL');
      throw new Error(`${args.join(' ')} not ready after ${timeoutMs} ms: ${tail()}`);
    }
    await sleep(20);
  }
  return handle;
}
