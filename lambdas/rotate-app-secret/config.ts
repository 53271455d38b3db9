import type { EnvReader } from "../core/config/env";
import { readRestartConfig, type RestartConfig } from "../core/rotation/restart";

export interface AppSecretRotationConfig {
  restart: RestartConfig;
}

/** Reads and validates the function's environment at cold start; errors name the variable. */
export function loadAppSecretRotationConfig(env: EnvReader): AppSecretRotationConfig {
  return { restart: readRestartConfig(env) };
}
