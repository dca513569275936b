import { Command, CommanderError } from 'commander';
import { UserError } from '../lib/errors/user-error.js';
import { enqueueCommand } from './enqueue-command.js';
import { statusCommand } from './status-command.js';
import { reportCommand } from './report-command.js';
import { listCommand } from './list-command.js';
import { workerCommand } from './worker-command.js';
import { emulatorCommand } from './emulator-command.js';
import { demoCommand } from './demo-command.js';
import { cancelCommand } from './cancel-command.js';
import { retryCommand } from './retry-command.js';
import { syncCommand } from './sync-command.js';
import { scheduleCommand } from './schedule-command.js';
import { serveCommand } from './serve-command.js';

const program = new Command('assignments')
  .description('Roll Microsoft Intune policy assignments out at scale through Microsoft Graph')
  .showHelpAfterError()
  .exitOverride();

for (const command of [
  workerCommand(),
  enqueueCommand(),
  statusCommand(),
  listCommand(),
  reportCommand(),
  cancelCommand(),
  retryCommand(),
  syncCommand(),
  scheduleCommand(),
  serveCommand(),
  emulatorCommand(),
  demoCommand(),
]) {
  program.addCommand(command.exitOverride());
}

/** Errors a person reads: one line with a stable code, details after, never a stack. */
function fail(err: unknown): never {
  if (err instanceof UserError) {
    process.stderr.write(`error ${err.code}: ${err.message}\n`);
    for (const line of err.details) process.stderr.write(`  ${line}\n`);
    process.exit(err.exitCode);
  }
  if (err instanceof CommanderError) {
    // commander has printed its message already; --help and --version are not failures.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

// `assignments report … | head` closes the pipe early: that is the reader's choice, not a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  fail(err);
}
