import * as http from "node:http";
import * as https from "node:https";
import * as tls from "node:tls";

/**
 * The application's health check made continuous: one GET with a deadline; healthy means a 2xx answer and,
 * when configured, a JSON body whose field has the expected value. A failure says which step failed.
 */

/** `field=value` on the JSON body, e.g. `status=ok`; `field` may be a dotted path (`checks.db`). */
export interface BodyExpectation {
  field: string;
  value: string;
}

export type HealthFailureKind = "dns" | "connect" | "tls" | "timeout" | "status" | "body";

export interface HealthProbeOptions {
  url: URL;
  timeoutMs: number;
  expect?: BodyExpectation;
  /** Extra trusted CA certificates (PEM), e.g. a private CA. */
  ca?: string | Buffer;
  now?: () => Date;
}

export interface HealthProbeResult {
  up: boolean;
  url: string;
  latencyMs: number;
  statusCode?: number;
  /** Days until the server certificate expires (negative once expired); https only. */
  tlsCertDaysLeft?: number;
  tlsCertExpiresAt?: string;
  failure?: { kind: HealthFailureKind; message: string };
}

/** The most of a body we read: a health endpoint answers in a few bytes. */
const MAX_BODY_BYTES = 64 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;

export function parseBodyExpectation(text: string): BodyExpectation {
  const separator = text.indexOf("=");
  const field = separator > 0 ? text.slice(0, separator).trim() : "";
  if (!field) throw new Error(`expected field=value (e.g. status=ok), got "${text}"`);
  return { field, value: text.slice(separator + 1).trim() };
}

export async function probeHealth(options: HealthProbeOptions): Promise<HealthProbeResult> {
  const now = options.now ?? (() => new Date());
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const base = { url: redactUrl(options.url) };
  let answer: HttpAnswer;
  try {
    answer = await get(options);
  } catch (error) {
    const failure = classifyFailure(error, options.timeoutMs);
    const result: HealthProbeResult = { ...base, up: false, latencyMs: elapsed(), failure };
    if (failure.kind === "tls") Object.assign(result, await inspectCertificate(options, now));
    return result;
  }
  const result: HealthProbeResult = {
    ...base,
    up: true,
    latencyMs: elapsed(),
    statusCode: answer.statusCode,
    ...certificateFigures(answer.certificateValidTo, now),
  };
  const failure = judgeAnswer(answer, options.expect);
  return failure ? { ...result, up: false, failure } : result;
}

interface HttpAnswer {
  statusCode: number;
  body: string;
  certificateValidTo?: string;
}

function get(options: HealthProbeOptions): Promise<HttpAnswer> {
  const { url, timeoutMs } = options;
  const transport = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(url, {
      method: "GET",
      // A fresh connection every time: the latency then includes DNS, connect and TLS, as a user sees it.
      agent: false,
      ca: options.ca ? [...tls.rootCertificates, options.ca.toString()] : undefined,
      headers: { accept: "application/json, */*", "user-agent": "atlas-ops-health-check" },
    });
    const deadline = setTimeout(() => request.destroy(new ProbeTimeout(timeoutMs)), timeoutMs);
    request.on("error", (error) => {
      clearTimeout(deadline);
      reject(error);
    });
    request.on("response", (response) => {
      const socket = response.socket as tls.TLSSocket;
      const certificate =
        typeof socket.getPeerCertificate === "function" ? socket.getPeerCertificate() : undefined;
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        if (size < MAX_BODY_BYTES) chunks.push(chunk);
        size += chunk.length;
      });
      response.on("error", reject);
      response.on("end", () => {
        clearTimeout(deadline);
        resolve({
          statusCode: response.statusCode ?? 0,
          body: Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString("utf8"),
          certificateValidTo: certificate?.valid_to || undefined,
        });
      });
    });
    request.end();
  });
}

class ProbeTimeout extends Error {
  override name = "ProbeTimeout";
  constructor(timeoutMs: number) {
    super(`no complete answer within ${timeoutMs} ms`);
  }
}

function judgeAnswer(answer: HttpAnswer, expect?: BodyExpectation): HealthProbeResult["failure"] {
  if (answer.statusCode < 200 || answer.statusCode > 299) {
    return { kind: "status", message: `HTTP status ${answer.statusCode} (expected 2xx)` };
  }
  if (!expect) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    return { kind: "body", message: `body is not JSON (expected ${expect.field}=${expect.value})` };
  }
  const actual = expect.field.split(".").reduce<unknown>((value, key) => {
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  }, body);
  if (actual === undefined) return { kind: "body", message: `body has no field "${expect.field}"` };
  const text = typeof actual === "string" ? actual : JSON.stringify(actual);
  if (text !== expect.value) {
    return {
      kind: "body",
      message: `body field "${expect.field}" is ${JSON.stringify(text.slice(0, 100))}, expected ${JSON.stringify(expect.value)}`,
    };
  }
  return undefined;
}

const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME", "EAI_NODATA"]);
const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "ETIMEDOUT",
]);

function classifyFailure(error: unknown, timeoutMs: number): NonNullable<HealthProbeResult["failure"]> {
  if (error instanceof ProbeTimeout) return { kind: "timeout", message: error.message };
  const code = String((error as { code?: unknown }).code ?? "");
  const message = error instanceof Error ? error.message : String(error);
  if (DNS_CODES.has(code)) return { kind: "dns", message: `DNS lookup failed: ${message}` };
  if (isTlsError(code, message)) return { kind: "tls", message: `TLS failed: ${message}` };
  if (CONNECT_CODES.has(code)) return { kind: "connect", message: `connection failed: ${message}` };
  if (code === "ECONNABORTED") return { kind: "timeout", message: `no answer within ${timeoutMs} ms` };
  return { kind: "connect", message: `request failed: ${code ? `${code}: ` : ""}${message}` };
}

function isTlsError(code: string, message: string): boolean {
  return (
    /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/.test(code) ||
    /certificate|ssl|tls/i.test(message)
  );
}

/**
 * After a TLS failure, a second connection that does not verify reads the certificate anyway, so an expired
 * certificate still reports how many days ago it expired. Nothing is sent over it.
 */
function inspectCertificate(
  options: HealthProbeOptions,
  now: () => Date,
): Promise<Pick<HealthProbeResult, "tlsCertDaysLeft" | "tlsCertExpiresAt">> {
  const { url, timeoutMs } = options;
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port || 443),
      servername: /^[\d.]+$|:/.test(url.hostname) ? undefined : url.hostname,
      rejectUnauthorized: false,
    });
    const done = (figures: Pick<HealthProbeResult, "tlsCertDaysLeft" | "tlsCertExpiresAt">): void => {
      clearTimeout(deadline);
      socket.destroy();
      resolve(figures);
    };
    const deadline = setTimeout(() => done({}), timeoutMs);
    socket.once("secureConnect", () => done(certificateFigures(socket.getPeerCertificate().valid_to, now)));
    socket.once("error", () => done({}));
  });
}

function certificateFigures(
  validTo: string | undefined,
  now: () => Date,
): Pick<HealthProbeResult, "tlsCertDaysLeft" | "tlsCertExpiresAt"> {
  if (!validTo) return {};
  const expires = new Date(validTo);
  if (Number.isNaN(expires.getTime())) return {};
  const daysLeft = Math.floor(((expires.getTime() - now().getTime()) / DAY_MS) * 10) / 10;
  return { tlsCertDaysLeft: daysLeft, tlsCertExpiresAt: expires.toISOString() };
}

/** A health URL may carry a token in its query or user info: logs show neither. */
export function redactUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.username || copy.password) {
    copy.username = copy.username ? "***" : "";
    copy.password = "";
  }
  if (copy.search) copy.search = "?***";
  return copy.href;
}
