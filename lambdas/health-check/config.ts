import { ConfigError, type EnvReader } from "../core/config/env";
import { parseBodyExpectation, type BodyExpectation } from "../core/probes/health";

export interface HealthCheckConfig {
  url: URL;
  timeoutMs: number;
  expect?: BodyExpectation;
}

export function loadHealthCheckConfig(env: EnvReader): HealthCheckConfig {
  const url = env.url("HEALTH_CHECK_URL");
  const timeoutMs = env.integer("HEALTH_CHECK_TIMEOUT_MS", 10_000, { min: 100, max: 120_000 });
  const expectText = env.optional("HEALTH_CHECK_EXPECT");
  let expect: BodyExpectation | undefined;
  if (expectText !== undefined) {
    try {
      expect = parseBodyExpectation(expectText);
    } catch (error) {
      throw new ConfigError("HEALTH_CHECK_EXPECT", (error as Error).message);
    }
  }
  return { url, timeoutMs, expect };
}
