import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = resolve(__dirname, "../..");

// In a fresh process: the test runner itself may already have loaded the SDK.
const PROBE = `
const { resolveArchive, resolveTarget } = require("./lambdas/adapters/targets.ts");
const loaded = () => Object.keys(require.cache).some((path) => path.includes("@aws-sdk/client-s3"));
resolveTarget("/tmp/backups");
resolveTarget("file:///tmp/backups");
resolveArchive("/tmp/backups/daily/opendev_backup_20240501_030000.tar.gz");
const forDirectories = loaded();
resolveTarget("s3://atlas-ops-bucket/prefix/");
console.log(JSON.stringify({ forDirectories, forS3: loaded() }));
`;

describe("resolveTarget", () => {
  it("loads the S3 client only for an s3:// target (a directory's backup or restore does without it)", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "-e", PROBE], {
      cwd: root,
    });
    expect(JSON.parse(stdout)).toEqual({ forDirectories: false, forS3: true });
  });
});
