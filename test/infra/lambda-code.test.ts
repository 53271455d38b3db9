import * as pulumi from "@pulumi/pulumi";
import { statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lambdaCode, PLACEHOLDER_CODE_ENV } from "../../infra/lambda-code";

describe("Lambda code for a deploy", () => {
  it("bundles the current handler instead of shipping whatever was built before", async () => {
    const saved = process.env[PLACEHOLDER_CODE_ENV];
    delete process.env[PLACEHOLDER_CODE_ENV];
    try {
      const started = Date.now();
      const archive = await (lambdaCode("health-check") as Promise<pulumi.asset.FileArchive>);
      expect(archive).toBeInstanceOf(pulumi.asset.FileArchive);
      const bundle = statSync(join(await archive.path, "index.js"));
      expect(bundle.mtimeMs).toBeGreaterThanOrEqual(started - 1000);
      expect(bundle.size).toBeGreaterThan(1000);
    } finally {
      if (saved !== undefined) process.env[PLACEHOLDER_CODE_ENV] = saved;
    }
  });
});
