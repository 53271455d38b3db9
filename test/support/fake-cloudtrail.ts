/**
 * CloudTrail's LookupEvents, which moto 5.2 does not implement (checked: the call answers HTTP 500 there).
 * This fake speaks the same AWS JSON 1.1 protocol (POST /, X-Amz-Target
 * CloudTrail_20131101.LookupEvents, the JSON protocol target the SDK sends), so the real SDK client talks to it
 * through AWS_ENDPOINT_URL_CLOUDTRAIL. It follows the API reference: at most one lookup attribute, MaxResults
 * 1-50 (default 50), NextToken paging, newest events first, epoch-second timestamps, errors as
 * `{ __type, message }`, and ThrottlingException (the service allows 2 calls per second) on demand.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface TrailEvent {
  EventId: string;
  EventName: string;
  EventTime: Date;
  EventSource: string;
  Username?: string;
  ReadOnly?: string;
  Resources?: { ResourceType?: string; ResourceName?: string }[];
  /** The full record, as CloudTrail stores it (userIdentity, sourceIPAddress, requestParameters, ...). */
  CloudTrailEvent: Record<string, unknown>;
}

export interface FakeCloudTrail {
  url: string;
  events: TrailEvent[];
  /** Every LookupEvents request body, in order. */
  requests: Record<string, unknown>[];
  /** The next `times` calls answer ThrottlingException. */
  throttleNext(times: number): void;
  close(): Promise<void>;
}

const TARGET = "CloudTrail_20131101.LookupEvents";
const ATTRIBUTES: Record<string, (event: TrailEvent) => string[]> = {
  EventName: (event) => [event.EventName],
  EventSource: (event) => [event.EventSource],
  Username: (event) => (event.Username ? [event.Username] : []),
  ResourceName: (event) => (event.Resources ?? []).map((r) => r.ResourceName ?? ""),
  ReadOnly: (event) => [event.ReadOnly ?? "false"],
  EventId: (event) => [event.EventId],
};

export async function startFakeCloudTrail(): Promise<FakeCloudTrail> {
  const events: TrailEvent[] = [];
  const requests: Record<string, unknown>[] = [];
  let throttled = 0;

  const server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const fail = (status: number, type: string, message: string) =>
      send(res, status, { __type: type, message });
    if (req.method !== "POST" || req.headers["x-amz-target"] !== TARGET) {
      return fail(
        400,
        "UnknownOperationException",
        `not implemented here: ${String(req.headers["x-amz-target"])}`,
      );
    }
    if (!/^AWS4-HMAC-SHA256 Credential=/.test(req.headers.authorization ?? "")) {
      return fail(400, "MissingAuthenticationTokenException", "Request is missing Authentication Token");
    }
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as {
      LookupAttributes?: { AttributeKey: string; AttributeValue: string }[];
      StartTime?: number;
      EndTime?: number;
      MaxResults?: number;
      NextToken?: string;
    };
    requests.push(body);
    if (throttled > 0) {
      throttled--;
      return fail(400, "ThrottlingException", "Rate exceeded");
    }
    const attributes = body.LookupAttributes ?? [];
    if (attributes.length > 1)
      return fail(400, "InvalidLookupAttributesException", "You can only specify one lookup attribute.");
    const attribute = attributes[0];
    if (attribute && !ATTRIBUTES[attribute.AttributeKey])
      return fail(
        400,
        "InvalidLookupAttributesException",
        `Unsupported attribute key ${attribute.AttributeKey}`,
      );
    const max = body.MaxResults ?? 50;
    if (!Number.isInteger(max) || max < 1 || max > 50)
      return fail(400, "InvalidMaxResultsException", "MaxResults must be between 1 and 50.");
    const from = (body.StartTime ?? 0) * 1000;
    const to = (body.EndTime ?? Date.now() / 1000) * 1000;
    if (from > to) return fail(400, "InvalidTimeRangeException", "StartTime is after EndTime.");
    const matching = events
      .filter((event) => event.EventTime.getTime() >= from && event.EventTime.getTime() <= to)
      .filter(
        (event) =>
          !attribute || ATTRIBUTES[attribute.AttributeKey]!(event).includes(attribute.AttributeValue),
      )
      .sort((a, b) => b.EventTime.getTime() - a.EventTime.getTime());
    const offset = body.NextToken ? Number(Buffer.from(body.NextToken, "base64").toString()) : 0;
    if (!Number.isInteger(offset) || offset < 0)
      return fail(400, "InvalidNextTokenException", "Invalid NextToken");
    const slice = matching.slice(offset, offset + max);
    const next =
      offset + max < matching.length ? Buffer.from(String(offset + max)).toString("base64") : undefined;
    send(res, 200, {
      Events: slice.map((event) => ({
        ...event,
        EventTime: event.EventTime.getTime() / 1000,
        CloudTrailEvent: JSON.stringify(event.CloudTrailEvent),
      })),
      ...(next ? { NextToken: next } : {}),
    });
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    events,
    requests,
    throttleNext: (times) => {
      throttled = times;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function send(res: ServerResponse, status: number, json: unknown): void {
  res.writeHead(status, { "Content-Type": "application/x-amz-json-1.1" });
  res.end(JSON.stringify(json));
}

/** A GetSecretValue record as CloudTrail writes it for a caller in an assumed-role session. */
export function secretRead(
  id: string,
  at: Date,
  roleArn: string,
  secretId: string,
  sourceIp = "203.0.113.7",
): TrailEvent {
  const [account = "123456789012", role = "role"] = [roleArn.split(":")[4], roleArn.split("/").pop()];
  return {
    EventId: id,
    EventName: "GetSecretValue",
    EventTime: at,
    EventSource: "secretsmanager.amazonaws.com",
    ReadOnly: "true",
    Username: `${role}-session`,
    Resources: [],
    CloudTrailEvent: {
      eventVersion: "1.09",
      userIdentity: {
        type: "AssumedRole",
        arn: `arn:aws:sts::${account}:assumed-role/${role}/${role}-session`,
        sessionContext: { sessionIssuer: { type: "Role", arn: roleArn, userName: role } },
      },
      eventTime: at.toISOString(),
      eventSource: "secretsmanager.amazonaws.com",
      eventName: "GetSecretValue",
      sourceIPAddress: sourceIp,
      requestParameters: { secretId },
      responseElements: null,
    },
  };
}

/** A bucket configuration call (PutBucketPolicy, ...) by an IAM user. */
export function bucketChange(
  id: string,
  at: Date,
  eventName: string,
  bucket: string,
  userArn: string,
): TrailEvent {
  return {
    EventId: id,
    EventName: eventName,
    EventTime: at,
    EventSource: "s3.amazonaws.com",
    ReadOnly: "false",
    Username: userArn.split("/").pop(),
    Resources: [{ ResourceType: "AWS::S3::Bucket", ResourceName: bucket }],
    CloudTrailEvent: {
      eventVersion: "1.09",
      userIdentity: { type: "IAMUser", arn: userArn },
      eventTime: at.toISOString(),
      eventSource: "s3.amazonaws.com",
      eventName,
      sourceIPAddress: "198.51.100.20",
      requestParameters: { bucketName: bucket, Host: `${bucket}.s3.amazonaws.com` },
    },
  };
}
