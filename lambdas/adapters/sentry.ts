import { randomUUID } from "node:crypto";

/**
 * Optional error reporting to Sentry when SENTRY_DSN is set. Sentry's Lambda SDK (@sentry/aws-serverless)
 * brings OpenTelemetry and would multiply the bundle size, and no small maintained client is a dependency
 * here, so a failure is sent as one event envelope with fetch (the protocol Sentry documents for SDKs).
 */

export interface SentryDsn {
  envelopeUrl: string;
  publicKey: string;
  dsn: string;
}

/** Parses `https://<public key>@<host>[/<path>]/<project id>`; the error never echoes the key. */
export function parseSentryDsn(dsn: string): SentryDsn {
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    throw new Error("SENTRY_DSN is not a URL (expected https://<key>@<host>/<project id>)");
  }
  const segments = url.pathname.split("/").filter(Boolean);
  const projectId = segments.pop();
  if (!url.username || !projectId || !/^https?:$/.test(url.protocol)) {
    throw new Error("SENTRY_DSN must look like https://<key>@<host>/<project id>");
  }
  const path = segments.length ? `/${segments.join("/")}` : "";
  return {
    envelopeUrl: `${url.protocol}//${url.host}${path}/api/${projectId}/envelope/`,
    publicKey: decodeURIComponent(url.username),
    dsn,
  };
}

export interface ErrorReport {
  error: Error;
  tags: Record<string, string>;
  extra?: Record<string, unknown>;
}

/** Sends one error event; never throws (error reporting must not hide the job's own failure). */
export async function reportToSentry(
  target: SentryDsn,
  report: ErrorReport,
  timeoutMs = 3000,
): Promise<boolean> {
  const eventId = randomUUID().replace(/-/g, "");
  const sentAt = new Date().toISOString();
  const event = {
    event_id: eventId,
    timestamp: Date.now() / 1000,
    platform: "node",
    level: "error",
    logger: "atlas-ops",
    tags: report.tags,
    extra: report.extra,
    exception: { values: [{ type: report.error.name, value: report.error.message }] },
  };
  const body = [
    JSON.stringify({ event_id: eventId, sent_at: sentAt, dsn: target.dsn }),
    JSON.stringify({ type: "event" }),
    JSON.stringify(event),
  ].join("\n");
  try {
    const response = await fetch(target.envelopeUrl, {
      method: "POST",
      headers: {
        "content-type": "application/x-sentry-envelope",
        "x-sentry-auth": `Sentry sentry_version=7, sentry_key=${target.publicKey}, sentry_client=atlas-ops/1`,
      },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return response.ok;
  } catch {
    return false;
  }
}
