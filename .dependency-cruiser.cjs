/**
 * The direction of imports between the rooms (`npm run lint` runs it):
 *
 *   cli/, server/  →  producer/, worker/  →  lib/
 *   cli/           →  emulator/           →  lib/ (leaf modules only)
 *
 * producer/ and worker/ never import each other: what both need (the tenant lanes, lane-bound Graph
 * calls, backoff) lives in lib/. lib/ imports nothing above it. bench/ and test/ may use anything.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes two modules one concept in two files, and its load order fragile.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'lib-imports-nothing-above-it',
      severity: 'error',
      comment: 'lib/ is the shared foundation: it may not know the applications that use it.',
      from: { path: '^lib/' },
      to: { path: '^(cli|server|emulator|producer|worker|bench|test)/' },
    },
    {
      name: 'worker-and-producer-do-not-import-each-other',
      severity: 'error',
      comment: 'What both need belongs in lib/ (lib/lanes/ for the lanes and lane-bound calls).',
      from: { path: '^(worker|producer)/' },
      to: { path: '^(cli|server|emulator|bench|test)/|^(worker|producer)/', pathNot: '^$1/' },
    },
    {
      name: 'server-does-not-import-cli',
      severity: 'error',
      comment: 'What the CLI and the server share belongs in lib/ or producer/.',
      from: { path: '^server/' },
      to: { path: '^(cli|emulator|bench|test)/' },
    },
    {
      name: 'cli-does-not-import-server-statically',
      severity: 'error',
      comment: '`serve` loads the server only when it runs (a dynamic import), so other commands start fast.',
      from: { path: '^cli/' },
      to: { path: '^(bench|test)/|^server/', dependencyTypesNot: ['dynamic-import'] },
    },
    {
      name: 'emulator-imports-only-lib-leaves',
      severity: 'error',
      comment:
        'The emulator stands in for Microsoft; it may share an id or a rate format, never the client code it is tested against.',
      from: { path: '^emulator/' },
      to: { path: '^(cli|server|producer|worker|bench|test)/|^lib/(?!object-id\\.ts$|rate-limit-spec\\.ts$)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
  },
};
