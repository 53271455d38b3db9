#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so a clean clone needs only `npm ci` (no build step). The project is
// CommonJS: tsx's require hook loads cli/main.ts; its import hook serves the commands' lazy `import()`s.
import { createRequire } from "node:module";
import { register as registerRequireHook } from "tsx/cjs/api";
import { register as registerImportHook } from "tsx/esm/api";

registerRequireHook();
registerImportHook();
const { main } = createRequire(import.meta.url)("../cli/main.ts");
process.exitCode = await main(process.argv);
