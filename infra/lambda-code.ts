import * as pulumi from "@pulumi/pulumi";
import { join } from "node:path";
import { bundleLambda } from "../lambdas/bundle";
import type { JobName } from "./jobs";

/** Where deploys put the bundles: dist/lambdas (ignored by git), or ATLAS_OPS_LAMBDA_BUILD_DIR when set. */
export const LAMBDA_BUILD_DIR_ENV = "ATLAS_OPS_LAMBDA_BUILD_DIR";
const outDir = (): string => process.env[LAMBDA_BUILD_DIR_ENV] || join(__dirname, "..", "dist", "lambdas");

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
  return bundleLambda(job, outDir()).then((bundle) => new pulumi.asset.FileArchive(bundle.directory));
}
