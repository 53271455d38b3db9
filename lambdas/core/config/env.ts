/**
 * Reading and validating a Lambda's environment variables. Every handler reads its configuration through
 * `readEnv`, so a bad value fails at cold start with an error that names the variable and the rule (and never
 * echoes a value that could be secret).
 */

export type Environment = Record<string, string | undefined>;

/** A configuration error: `variable` is the environment variable at fault. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly variable: string,
    rule: string,
  ) {
    super(`environment variable ${variable} ${rule}`);
  }
}

export interface EnvReader {
  /** A non-empty string; throws naming the variable when it is unset or blank. */
  required(name: string): string;
  /** The trimmed value, or `fallback` when unset or blank. */
  optional(name: string): string | undefined;
  optional(name: string, fallback: string): string;
  /** A comma-separated list with blanks dropped; `[]` when unset. */
  list(name: string): string[];
  /** A whole number within [min, max], or `fallback` when unset. */
  integer(name: string, fallback: number, range?: { min?: number; max?: number }): number;
  /** One of `allowed`, or `fallback` when unset. */
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T;
  /** An absolute http(s) URL. */
  url(name: string, options?: { required: true }): URL;
  url(name: string, options: { required: false }): URL | undefined;
}

export function readEnv(env: Environment = process.env): EnvReader {
  const optional = (name: string, fallback?: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : fallback;
  };
  const required = (name: string): string => {
    const value = optional(name);
    if (value === undefined) throw new ConfigError(name, "is required but not set");
    return value;
  };
  return {
    required,
    optional: optional as EnvReader["optional"],
    list(name) {
      const value = optional(name);
      if (value === undefined) return [];
      return value
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item.length > 0);
    },
    integer(name, fallback, range = {}) {
      const value = optional(name);
      if (value === undefined) return fallback;
      if (!/^-?\d+$/.test(value)) throw new ConfigError(name, `must be a whole number (got "${value}")`);
      const number = Number(value);
      if (range.min !== undefined && number < range.min) {
        throw new ConfigError(name, `must be at least ${range.min} (got ${number})`);
      }
      if (range.max !== undefined && number > range.max) {
        throw new ConfigError(name, `must be at most ${range.max} (got ${number})`);
      }
      return number;
    },
    oneOf(name, allowed, fallback) {
      const value = optional(name);
      if (value === undefined) return fallback;
      const match = allowed.find((candidate) => candidate === value);
      if (match === undefined) {
        throw new ConfigError(name, `must be one of ${allowed.join(", ")} (got "${value}")`);
      }
      return match;
    },
    url: ((name: string, options: { required: boolean } = { required: true }): URL | undefined => {
      const value = options.required ? required(name) : optional(name);
      if (value === undefined) return undefined;
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        throw new ConfigError(name, "must be an absolute URL such as https://example.com/api/health");
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new ConfigError(name, `must be an http:// or https:// URL (got ${url.protocol}//)`);
      }
      return url;
    }) as EnvReader["url"],
  };
}

/**
 * Loads configuration once, at cold start, and keeps the outcome. A bad configuration does not crash the
 * module load (Lambda would only show an init error): each invocation rethrows it, so the handler can log
 * it, record the job's failure metric and fail the invocation.
 */
export function loadAtColdStart<T>(load: () => T): () => T {
  let value: T;
  let failure: unknown;
  let failed = false;
  try {
    value = load();
  } catch (error) {
    failure = error;
    failed = true;
  }
  return () => {
    if (failed) throw failure;
    return value;
  };
}

/** Common settings every job reads. */
export interface CommonConfig {
  appName: string;
}

export function readCommonConfig(env: EnvReader): CommonConfig {
  const appName = env.optional("APP_NAME", "opendev");
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(appName)) {
    throw new ConfigError("APP_NAME", "may contain only letters, digits, '.', '_' and '-'");
  }
  return { appName };
}
