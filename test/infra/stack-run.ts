import * as pulumi from "@pulumi/pulumi";
import { PLACEHOLDER_CODE_ENV } from "../../infra/lambda-code";
import { atlasOpsStack } from "../../infra/program";
import { installMocks, type RecordedResource, resolve, settle } from "./mocks";
import { testConfig } from "./stack-config";

export interface StackRun {
  resources: RecordedResource[];
  outputs: Record<string, unknown>;
}

/** Runs the whole program under mocks with the filled-in prod stack file (plus overrides). */
export async function runStack(
  overrides: Record<string, string> = {},
  mocks: Parameters<typeof installMocks>[0] = {},
): Promise<StackRun> {
  process.env[PLACEHOLDER_CODE_ENV] = "1";
  const resources = installMocks(mocks);
  const stack = atlasOpsStack(testConfig(overrides));
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(stack)) {
    outputs[key] =
      value === undefined ? undefined : await resolve(pulumi.output(value as pulumi.Input<unknown>));
  }
  await settle(resources);
  return { resources, outputs };
}
