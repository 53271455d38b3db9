import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

/**
 * Node 22 is the floor: on an older Node the CLI says so and stops, rather than failing later in some
 * dependency. Needs an older node on the machine's PATH (this one has Node 20 as /usr/bin/node).
 */
const run = promisify(execFile);
const root = resolve(__dirname, "../..");
const older = "/usr/bin/node";

async function majorOf(node: string): Promise<number | undefined> {
  try {
    const { stdout } = await run(node, ["-p", "process.versions.node.split('.')[0]"]);
    return Number(stdout.trim());
  } catch {
    return undefined;
  }
}

describe("the Node floor", async () => {
  const major = await majorOf(older);
  it.skipIf(major === undefined || major >= 22)(
    `refuses Node ${major} with a message naming the floor`,
    async () => {
      const result = await run(older, [join(root, "bin/atlas-ops.mjs"), "--help"]).then(
        () => ({ code: 0, stderr: "" }),
        (error: { code: number; stderr: string }) => error,
      );
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/needs Node\.js 22 or newer, this is v\d+/);
    },
  );
});
