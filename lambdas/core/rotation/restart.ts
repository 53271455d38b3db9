import { createHmac } from "node:crypto";
import { ConfigError, type EnvReader } from "../config/env";

/**
 * After finishSecret the application must pick up the new value: restart its ECS services, call its deploy
 * hook, or nothing (an app that re-reads the secret itself). How is configured per rotation function
 * (RESTART_MODE); whether is per secret (its `atlas-ops:restart` tag, see rotation-steps.ts).
 */
export type RestartConfig =
  | { mode: "none" }
  | { mode: "ecs"; cluster: string; services: string[] }
  | { mode: "webhook"; url: string; secretId: string };

export interface RestartRequest {
  secretName: string;
  versionId: string;
}

/** One way to make the application reload; throws when it could not. */
export type RestartApplication = (request: RestartRequest) => Promise<void>;

export const WEBHOOK_SIGNATURE_HEADER = "X-Atlas-Ops-Signature";

/** Reads RESTART_MODE and its variables; errors name the variable. */
export function readRestartConfig(env: EnvReader): RestartConfig {
  const mode = env.oneOf("RESTART_MODE", RESTART_MODES, "none");
  const required = (name: string): string => {
    const value = env.optional(name);
    if (value === undefined) throw new ConfigError(name, `is required when RESTART_MODE=${mode}`);
    return value;
  };
  switch (mode) {
    case "none":
      return { mode };
    case "ecs": {
      const services = env.list("RESTART_ECS_SERVICES");
      if (services.length === 0) required("RESTART_ECS_SERVICES");
      return { mode, cluster: required("RESTART_ECS_CLUSTER"), services };
    }
    case "webhook": {
      const url = required("RESTART_WEBHOOK_URL");
      checkWebhookUrl(url, "RESTART_WEBHOOK_URL");
      return { mode, url, secretId: required("RESTART_WEBHOOK_SECRET_ID") };
    }
  }
}

const RESTART_MODES = ["none", "ecs", "webhook"] as const;

/** The hook gets a signed body: HTTPS only, except a loopback address (a local agent or a test). */
export function checkWebhookUrl(url: string, name: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(name, "is not a URL");
  }
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(parsed.hostname);
  if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && loopback)) {
    throw new ConfigError(name, "must be an https:// URL");
  }
}

/** `sha256=<hex HMAC-SHA256 of the exact body bytes>`, as GitHub-style webhooks sign. */
export function webhookSignature(body: string, key: string): string {
  return `sha256=${createHmac("sha256", key).update(body, "utf8").digest("hex")}`;
}

export interface WebhookOptions {
  url: string;
  /** The HMAC key (from the secret named by RESTART_WEBHOOK_SECRET_ID). */
  signingKey(): Promise<string>;
  attempts?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
}

/** POSTs `{event, secretName, versionId, rotatedAt}` signed, retrying network errors, 429 and 5xx. */
export function webhookRestart(options: WebhookOptions): RestartApplication {
  const attempts = options.attempts ?? 3;
  const baseDelayMs = options.baseDelayMs ?? 1000;
  return async ({ secretName, versionId }) => {
    const body = JSON.stringify({
      event: "secret-rotated",
      secretName,
      versionId,
      rotatedAt: new Date().toISOString(),
    });
    const signature = webhookSignature(body, await options.signingKey());
    const target = new URL(options.url);
    const where = `restart webhook ${target.origin}${target.pathname}`;
    for (let attempt = 1; ; attempt++) {
      let failure: string;
      let retryable = true;
      try {
        const response = await fetch(options.url, {
          method: "POST",
          headers: { "Content-Type": "application/json", [WEBHOOK_SIGNATURE_HEADER]: signature },
          body,
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        });
        await response.arrayBuffer();
        if (response.ok) return;
        failure = `HTTP ${response.status}`;
        retryable = response.status === 429 || response.status >= 500;
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
      }
      if (!retryable) throw new Error(`${where} answered ${failure}`);
      if (attempt >= attempts) throw new Error(`${where} failed after ${attempt} attempts: ${failure}`);
      await new Promise((resolve) => setTimeout(resolve, baseDelayMs * 2 ** (attempt - 1)));
    }
  };
}
