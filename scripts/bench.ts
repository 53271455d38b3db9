import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseServicesEnv } from "../test/setup/global-setup";
import { benchBackup, formatBackupBench } from "./bench/backup";
import { benchRestore, formatRestoreBench } from "./bench/restore";

/**
 * `npm run bench [-- --size 100] [--only backup|restore]`: one run of each section against the test server,
 * printed as tables. Sizes are approximate MB of BSON (default 100 and 1000). Sections live in scripts/bench/*.ts.
 */
function sizes(argv: string[]): number[] {
  const at = argv.indexOf("--size");
  if (at < 0) return [100, 1000];
  const value = Number(argv[at + 1]);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--size needs a positive number of MB, not "${argv[at + 1]}"`);
  return [value];
}

const SECTIONS = ["backup", "restore"] as const;
type Section = (typeof SECTIONS)[number];

function sections(argv: string[]): readonly Section[] {
  const at = argv.indexOf("--only");
  if (at < 0) return SECTIONS;
  const value = argv[at + 1];
  const section = SECTIONS.find((name) => name === value);
  if (!section) throw new Error(`--only needs one of ${SECTIONS.join(", ")}, not "${value}"`);
  return [section];
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run \`npm run services -- up\` first`);
  return value;
}

async function main(): Promise<void> {
  const servicesEnv = join(__dirname, "..", ".services.env");
  if (!process.env.TEST_MONGODB_URI && existsSync(servicesEnv)) {
    Object.assign(process.env, parseServicesEnv(readFileSync(servicesEnv, "utf8")));
  }
  const mongodbUri = required("TEST_MONGODB_URI");
  const mongodump = required("MONGODUMP");
  console.log(`node ${process.version}, ${mongodbUri}`);
  const only = sections(process.argv);
  for (const sizeMb of sizes(process.argv)) {
    if (only.includes("backup")) {
      console.log(formatBackupBench(await benchBackup({ mongodbUri, mongodump, sizeMb })));
    }
    if (!only.includes("restore")) continue;
    const documents = Math.round((sizeMb * 1024 * 1024) / 270);
    console.log(
      formatRestoreBench(
        await benchRestore({ mongodbUri, mongodump, mongorestore: required("MONGORESTORE"), documents }),
      ),
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
