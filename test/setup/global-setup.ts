import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { TestProject } from "vitest/node";

/**
 * Parses the KEY='value' lines that test/services/services.sh writes (POSIX single quoting, with '\'' for a
 * quote inside a value).
 */
export function parseServicesEnv(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, key, raw] = match as unknown as [string, string, string];
    let value = "";
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i];
      if (c === "'") {
        const end = raw.indexOf("'", i + 1);
        if (end < 0) throw new Error(`unterminated quote in .services.env: ${key}`);
        value += raw.slice(i + 1, end);
        i = end;
      } else if (c === "\\" && i + 1 < raw.length) {
        value += raw[i + 1];
        i++;
      } else {
        value += c;
      }
    }
    result[key] = value;
  }
  return result;
}

function startLocalServices(root: string): void {
  const script = path.join(root, "test", "services", "services.sh");
  // Synchronous on purpose: nothing may run before the services answer. A cold start builds Go programs
  // and takes minutes; progress and errors go to our stderr.
  const run = spawnSync("bash", [script, "up"], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (run.error) throw new Error(`could not run ${script}: ${run.error.message}`);
  if (run.status !== 0) {
    throw new Error(
      `the local test services did not start (${script} up exited ${run.status ?? run.signal}); ` +
        `see the messages above and ${path.join(root, ".services", "logs")}`,
    );
  }
  const values = parseServicesEnv(readFileSync(path.join(root, ".services.env"), "utf8"));
  // Workers are spawned after global setup with a copy of process.env, so this is what they see.
  Object.assign(process.env, values);
  // Never let a developer's AWS profile or session token reach the local AWS API.
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
}

async function motoApi(endpoint: string, route: string, body?: unknown): Promise<Response | undefined> {
  const url = `${endpoint.replace(/\/+$/, "")}/moto-api/${route}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new Error(`AWS_ENDPOINT_URL ${endpoint} does not answer (POST ${url}): ${String(error)}`);
  }
  // Another AWS emulator (LocalStack) has no moto API: leave its state alone.
  if (response.status === 404) return undefined;
  if (!response.ok) {
    throw new Error(`POST ${url} answered ${response.status}: ${(await response.text()).slice(0, 500)}`);
  }
  return response;
}

export default async function setup(project: TestProject): Promise<void> {
  const root = project.config.root;
  if (process.env.TEST_MONGODB_URI) {
    console.error("global setup: TEST_MONGODB_URI is set; using the environment as it is");
  } else {
    startLocalServices(root);
  }

  const endpoint = process.env.AWS_ENDPOINT_URL;
  if (!endpoint) return;
  // No reset of moto's state: every test file uses its own bucket, secret and topic names (uniqueName), and a
  // reset would wipe the resources of another run sharing the same services (a second test run, the demo).
  // moto would run Lambda invocations in Docker, which the test machines do not have.
  if (!(await motoApi(endpoint, "config", { lambda: { use_docker: false } }))) {
    console.error(`global setup: ${endpoint} has no moto API; leaving its configuration alone`);
  }
}
