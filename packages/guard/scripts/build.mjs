// Builds dist/esm (ES modules) and dist/cjs (CommonJS) with the TypeScript compiler; no bundler.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
rmSync(join(root, 'dist'), { recursive: true, force: true });
for (const project of ['tsconfig.json', 'tsconfig.cjs.json'])
  execFileSync(process.execPath, [tsc, '-p', join(root, project)], { stdio: 'inherit' });
mkdirSync(join(root, 'dist/cjs'), { recursive: true });
writeFileSync(join(root, 'dist/cjs/package.json'), '{"type":"commonjs"}\n');
// tsc keeps the sources' `./x.ts` specifiers in declaration files: point them at the emitted `./x.js`.
for (const folder of ['dist/esm', 'dist/cjs']) {
  for (const file of readdirSync(join(root, folder)).filter((name) => name.endsWith('.d.ts'))) {
    const path = join(root, folder, file);
    writeFileSync(path, readFileSync(path, 'utf8').replace(/(from '\.{1,2}\/[^']+)\.ts'/g, "$1.js'"));
  }
}
