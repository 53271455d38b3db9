import * as pulumi from "@pulumi/pulumi";
import { join } from "node:path";
import { bundleLambda } from "../lambdas/bundle";
import type { JobName } from "./jobs";

/** Where deploys put the bundles (ignored by git). */
const OUT_DIR = join(__dirname, "..", "dist", "lambdas");

/**
 * Set only by the infra tests (Pulumi mocks): a stub handler instead of running esbuild. A real deploy always
 * bundles the current code, so a stale build can never ship.
 */
export const PLACEHOLDER_CODE_ENV = "ATLAS_OPS_PLACEHOLDER_LAMBDA_CODE";

export function lambdaCode(job: JobName): pulumi.Input<pulumi.asset.Archive> {
  if (process.env[PLACEHOLDER_CODE_ENV] === "1") {
    return new pulumi.asset.AssetArchive({
      "index.js": new pulumi.asset.StringAsset(
        `exports.handler = async () => { throw new Error("placeholder ${job}"); };`,
      ),
    });
  }
  return bundleLambda(job, OUT_DIR).then((bundle) => new pulumi.asset.FileArchive(bundle.directory));
}
