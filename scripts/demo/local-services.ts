import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { parseServicesEnv } from "../../test/setup/global-setup";

/**
 * The same local services the tests use (test/services/services.sh): FerretDB on PostgreSQL (real password
 * checks), moto for the AWS APIs, and the stock mongo-tools. When TEST_MONGODB_URI is already set (the e2e
 * test, whose global setup started them), the environment is used as it is.
 */
export interface LocalServices {
  /** True when this run brought them up (so it may take them down again). */
  startedHere: boolean;
  stop(): void;
}

const REQUIRED = [
  "TEST_FERRETDB_PG_HOSTPORT",
  "TEST_POSTGRES_ADMIN_URL",
  "TEST_PSQL",
  "AWS_ENDPOINT_URL",
  "MONGORESTORE",
] as const;

export function startLocalServices(root: string): LocalServices {
  const script = join(root, "test", "services", "services.sh");
  let startedHere = false;
  if (!process.env.TEST_MONGODB_URI) {
    startedHere = !allUp(script, root);
    // Progress and errors of a first start (it builds FerretDB and mongo-tools) go to our stderr.
    const up = spawnSync("bash", [script, "up"], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
    if (up.error || up.status !== 0) {
      throw new Error(
        `${script} up ${up.error ? `could not run: ${up.error.message}` : `exited ${up.status ?? up.signal}`}; ` +
          `see the messages above and ${join(root, ".services", "logs")}`,
      );
    }
    Object.assign(process.env, parseServicesEnv(readFileSync(join(root, ".services.env"), "utf8")));
  }
  const missing = REQUIRED.filter((name) => !process.env[name]);
  if (missing.length) {
    throw new Error(
      `the local services environment lacks ${missing.join(", ")} (see test/services/README.md)`,
    );
  }
  // Never let a developer's AWS profile or session reach the local AWS API.
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  // The database users are PostgreSQL roles, managed with the psql that matches the server.
  process.env.PATH = `${dirname(process.env.TEST_PSQL!)}${delimiter}${process.env.PATH ?? ""}`;
  return {
    startedHere,
    stop() {
      spawnSync("bash", [script, "down"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
    },
  };
}

function allUp(script: string, root: string): boolean {
  const status = spawnSync("bash", [script, "status"], { cwd: root, encoding: "utf8" });
  const lines = (status.stdout ?? "").split("\n");
  return ["ferretdb-pg", "postgres", "moto"].every((name) =>
    lines.some((line) => line.startsWith(`${name} `) && / up$/.test(line.trim())),
  );
}
