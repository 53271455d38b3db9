#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so a clean clone needs only `npm ci` (no build step). The project is
// CommonJS, so tsx's require hook is all it needs (its import hook would add a loader thread to every run).
import { createRequire } from "node:module";
import { register } from "tsx/cjs/api";

register();
const { main } = createRequire(import.meta.url)("../cli/main.ts");
process.exitCode = await main(process.argv);
