// `npm run build`, after tsc: tsc compiles only TypeScript, and the Redis scripts are read at run
// time from next to the compiled module that calls them (`new URL('./x-2.lua', import.meta.url)`),
// so every .lua file of a compiled folder goes to the same place under dist/.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The folders tsc compiles are read from its config, so a folder added there is never missed here.
const { include } = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8'));
// tsconfig.json's outDir, with rootDir '.': dist/ mirrors the source tree.
const outDir = 'dist';

for (const entry of include) {
  if (/[*?]/.test(entry))
    throw new Error(`scripts/copy-lua.mjs walks folders; tsconfig.build.json includes a pattern (${entry})`);
  const from = join(root, entry);
  if (!existsSync(from) || !statSync(from).isDirectory()) continue;
  // Node 20 has no fs.glob; a recursive readdirSync lists the tree, paths relative to `from`.
  for (const file of readdirSync(from, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.lua')) continue;
    const to = join(root, outDir, entry, file);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(from, file), to);
  }
}
