#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so a clean clone needs only `npm ci` (no build step).
import { tsImport } from "tsx/esm/api";

const { main } = await tsImport("../cli/main.ts", import.meta.url);
process.exitCode = await main(process.argv);
