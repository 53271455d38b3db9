import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { type AtlasOpsConfig, parseConfig } from "../../infra/config";
import { REGION } from "./mocks";

/** The `atlas-ops:*` keys of Pulumi.prod.yaml as Pulumi hands them to the program (structured values as JSON). */
export function prodStackValues(): Record<string, string> {
  const file = load(readFileSync(join(__dirname, "..", "..", "Pulumi.prod.yaml"), "utf8")) as {
    config: Record<string, unknown>;
  };
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(file.config)) {
    if (!key.startsWith("atlas-ops:")) continue;
    values[key.slice("atlas-ops:".length)] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return values;
}

/** Pulumi.prod.yaml with its placeholders filled in, as a user would after `pulumi config set`. */
export function testStackValues(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...prodStackValues(),
    atlasOrgId: "5f0c1a2b3c4d5e6f7a8b9c0d",
    technicalContacts: JSON.stringify(["ops@example.com"]),
    securityContacts: JSON.stringify(["security@example.com"]),
    healthCheckUrl: "https://shop.example.com/api/health",
    ...overrides,
  };
}

export function testConfig(overrides: Record<string, string> = {}): AtlasOpsConfig {
  const values = testStackValues(overrides);
  return parseConfig((key) => values[key], REGION);
}
