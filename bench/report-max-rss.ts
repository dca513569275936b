/**
 * Preloaded into a child process (`node --import <this file> …`) when `/usr/bin/time -v` is not
 * available: prints the process's peak resident set size on stderr as it exits, for the enqueue
 * benchmark. `process.resourceUsage().maxRSS` is in kilobytes, like time's "Maximum resident set
 * size". The 'exit' event also fires on process.exit(), which is how the CLI ends on errors.
 */
process.on('exit', () => {
  process.stderr.write(`\nmax-rss-kb ${process.resourceUsage().maxRSS}\n`);
});
