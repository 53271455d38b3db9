import type { AtlasAccessLog, AtlasEvent } from "../atlas/atlas-reads";

/**
 * The guide's weekly "Review security logs" and monthly "Security audit" as one weekly summary: failed
 * database logins (Atlas access history), changes to database users, the access list and API credentials
 * (Atlas project events), reads of the stack's secrets by principals other than the expected roles and
 * changes to the backup bucket's protection (CloudTrail). Free of AWS: the handler passes plain records.
 */

/** The Atlas event types the review asks for (names from the Atlas event type list). */
export const SECURITY_EVENT_TYPES = {
  databaseUsers: [
    "MONGODB_USER_ADDED",
    "MONGODB_USER_DELETED",
    "MONGODB_USER_UPDATED",
    "MONGODB_ROLE_ADDED",
    "MONGODB_ROLE_UPDATED",
    "MONGODB_ROLE_DELETED",
  ],
  accessList: ["NETWORK_PERMISSION_ENTRY_ADDED", "NETWORK_PERMISSION_ENTRY_UPDATED"],
  apiCredentials: ["API_KEY_CREATED", "API_KEY_ADDED_TO_GROUP", "API_KEY_ROLES_CHANGED"],
} as const;

export const ALL_SECURITY_EVENT_TYPES: string[] = Object.values(SECURITY_EVENT_TYPES).flat();

/** The CloudTrail management events that weaken the backup bucket's protection. */
export const BUCKET_PROTECTION_EVENTS = [
  "PutBucketPolicy",
  "DeleteBucketPolicy",
  "PutBucketPublicAccessBlock",
  "DeleteBucketPublicAccessBlock",
  "PutObjectLockConfiguration",
] as const;

/** One CloudTrail event, reduced to what the review shows (never request or response payloads). */
export interface TrailRecord {
  eventName: string;
  eventTime: Date;
  /** The IAM role behind an assumed-role session, else the caller's ARN. */
  principal: string;
  sourceIp?: string;
  /** The secret id or bucket name the call named. */
  target: string;
}

export interface SecurityReviewInput {
  app: string;
  from: Date;
  to: Date;
  accessLogs: AtlasAccessLog[];
  events: AtlasEvent[];
  /** More events existed than the review reads (the summary says so). */
  eventsTruncated: boolean;
  secretReads: TrailRecord[];
  secretReadsTruncated: boolean;
  bucketChanges: TrailRecord[];
  /** Role ARNs expected to read the secrets: the stack's own job roles and the configured readers. */
  expectedSecretReaders: string[];
  thresholds: SecurityThresholds;
}

export interface SecurityThresholds {
  /** Failed logins in the week above which the review alarms. */
  failedLogins: number;
  /** Database user changes above which the review alarms (rotation changes passwords too). */
  databaseUserChanges: number;
}

/** The figures, each also a metric (names from the metrics catalog). */
export interface SecurityFigures {
  FailedLogins: number;
  DatabaseUserChanges: number;
  AccessListOpened: number;
  ApiCredentialsCreated: number;
  UnexpectedSecretReads: number;
  BackupBucketChanges: number;
  SecurityFindings: number;
}

export interface SecurityReview {
  figures: SecurityFigures;
  findings: string[];
  subject: string;
  message: string;
}

/** Lines per section: the mail stays readable; the counts are always complete. */
const MAX_LINES = 15;

export function reviewSecurity(input: SecurityReviewInput): SecurityReview {
  const failed = input.accessLogs.filter((log) => log.authResult === false);
  const bySource = countBy(failed, (log) => `${log.username ?? "?"} from ${log.ipAddress ?? "?"}`);
  const ofKind = (types: readonly string[]) =>
    input.events.filter((event) => types.includes(event.eventTypeName ?? ""));
  const userChanges = ofKind(SECURITY_EVENT_TYPES.databaseUsers);
  const accessList = ofKind(SECURITY_EVENT_TYPES.accessList);
  const credentials = ofKind(SECURITY_EVENT_TYPES.apiCredentials);
  const expected = new Set(input.expectedSecretReaders);
  const unexpectedReads = input.secretReads.filter((read) => !expected.has(read.principal));

  const figures: SecurityFigures = {
    FailedLogins: failed.length,
    DatabaseUserChanges: userChanges.length,
    AccessListOpened: accessList.length,
    ApiCredentialsCreated: credentials.length,
    UnexpectedSecretReads: unexpectedReads.length,
    BackupBucketChanges: input.bucketChanges.length,
    SecurityFindings: 0,
  };
  const findings: string[] = [];
  if (figures.FailedLogins > input.thresholds.failedLogins)
    findings.push(
      `${figures.FailedLogins} failed database logins (threshold ${input.thresholds.failedLogins})`,
    );
  if (figures.DatabaseUserChanges > input.thresholds.databaseUserChanges)
    findings.push(
      `${figures.DatabaseUserChanges} database user changes (threshold ${input.thresholds.databaseUserChanges})`,
    );
  if (figures.AccessListOpened > 0)
    findings.push(`${figures.AccessListOpened} access list entries added or changed`);
  if (figures.ApiCredentialsCreated > 0)
    findings.push(`${figures.ApiCredentialsCreated} API keys created or given project roles`);
  if (figures.UnexpectedSecretReads > 0)
    findings.push(`${figures.UnexpectedSecretReads} secret reads by unexpected principals`);
  if (figures.BackupBucketChanges > 0)
    findings.push(`${figures.BackupBucketChanges} changes to the backup bucket's policy or protection`);
  figures.SecurityFindings = findings.length;

  const when = (value?: string | Date) =>
    value === undefined
      ? "?"
      : (value instanceof Date ? value : new Date(value)).toISOString().slice(0, 16) + "Z";
  const lines: string[] = [`Security review for ${input.app}, ${when(input.from)} to ${when(input.to)}`, ""];
  if (findings.length) lines.push("Needs attention:", ...findings.map((f) => `  - ${f}`), "");

  lines.push(`Failed database logins: ${failed.length} of ${input.accessLogs.length} attempts`);
  section(
    lines,
    [...bySource].sort((a, b) => b[1] - a[1]).map(([who, n]) => `${n} x ${who}`),
  );

  lines.push("", `Database users and roles changed: ${userChanges.length}`);
  section(
    lines,
    userChanges.map((e) =>
      `${when(e.created)} ${e.eventTypeName} ${e.dbUserUsername ?? ""} by ${actor(e)}`.replace(/ +/g, " "),
    ),
  );

  lines.push("", `Access list entries added or changed: ${accessList.length}`);
  section(
    lines,
    accessList.map((e) => `${when(e.created)} ${e.eventTypeName} ${accessEntry(e)} by ${actor(e)}`),
  );

  lines.push("", `API keys created or given project roles: ${credentials.length}`);
  section(
    lines,
    credentials.map((e) => `${when(e.created)} ${e.eventTypeName} by ${actor(e)}`),
  );
  if (input.eventsTruncated)
    lines.push("  (more Atlas events exist than one review reads: see the project's activity feed)");

  lines.push(
    "",
    `Secret reads by unexpected principals: ${unexpectedReads.length} of ${input.secretReads.length} reads`,
  );
  section(
    lines,
    unexpectedReads.map(
      (r) => `${when(r.eventTime)} ${r.target} by ${r.principal}${r.sourceIp ? ` from ${r.sourceIp}` : ""}`,
    ),
  );
  if (input.secretReadsTruncated)
    lines.push("  (more reads exist than one review reads: see CloudTrail event history)");

  lines.push(
    "",
    `Backup bucket policy, public access block and Object Lock changes: ${input.bucketChanges.length}`,
  );
  section(
    lines,
    input.bucketChanges.map((r) => `${when(r.eventTime)} ${r.eventName} on ${r.target} by ${r.principal}`),
  );

  const status = findings.length ? `${findings.length} finding(s)` : "nothing found";
  const subject = `[${input.app}] weekly security review: ${status}`
    .replace(/[^\x20-\x7e]/g, "?")
    .slice(0, 100);
  return { figures, findings, subject, message: lines.join("\n") + "\n" };
}

function section(lines: string[], entries: string[]): void {
  for (const entry of entries.slice(0, MAX_LINES)) lines.push(`  ${entry}`);
  if (entries.length > MAX_LINES) lines.push(`  ... and ${entries.length - MAX_LINES} more`);
}

function countBy<T>(items: T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

function actor(event: AtlasEvent): string {
  const who = event.username ?? event.publicKey ?? "unknown";
  return event.remoteAddress ? `${who} from ${event.remoteAddress}` : who;
}

/** The entry an access list event names, when Atlas includes it (`whitelistEntry` or the raw document). */
function accessEntry(event: AtlasEvent): string {
  const raw = event.raw ?? {};
  const value = event.whitelistEntry ?? raw.cidrBlock ?? raw.ipAddress ?? raw.whitelistEntry;
  return typeof value === "string" ? value : "(entry not named)";
}

/**
 * Reduces a CloudTrail event's JSON (`CloudTrailEvent`) to a record: an assumed-role session counts as its
 * role (sessionIssuer.arn), which is what the stack's expected readers list.
 */
export function parseTrailEvent(json: string, eventName: string, eventTime: Date): TrailRecord | undefined {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const identity = (record.userIdentity ?? {}) as {
    arn?: string;
    type?: string;
    invokedBy?: string;
    sessionContext?: { sessionIssuer?: { arn?: string } };
  };
  const principal =
    identity.sessionContext?.sessionIssuer?.arn ??
    identity.arn ??
    identity.invokedBy ??
    identity.type ??
    "unknown";
  const request = (record.requestParameters ?? {}) as { secretId?: unknown; bucketName?: unknown };
  const target =
    typeof request.secretId === "string"
      ? request.secretId
      : typeof request.bucketName === "string"
        ? request.bucketName
        : "";
  const sourceIp = typeof record.sourceIPAddress === "string" ? record.sourceIPAddress : undefined;
  return { eventName, eventTime, principal, sourceIp, target };
}

/** A secret read targets one of ours when it names the ARN, the ARN without its random suffix, or the name. */
export function isOurSecret(target: string, secretArns: string[]): boolean {
  return secretArns.some((arn) => {
    const name = arn.split(":secret:")[1] ?? arn;
    const withoutSuffix = name.replace(/-[A-Za-z0-9]{6}$/, "");
    return target === arn || target === name || target === withoutSuffix || arn.startsWith(`${target}-`);
  });
}
