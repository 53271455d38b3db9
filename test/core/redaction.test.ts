import { describe, expect, it } from "vitest";
import { DocumentRun } from "../../lambdas/core/archive/document-run";
import type { ArchiveEvent } from "../../lambdas/core/archive/events";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { parseMongoUri, redactSecrets, secretsOfUri } from "../../lambdas/core/mongo/uri";
import { restoreEvents } from "../../lambdas/core/restore/engine";
import { formatRestoreReport } from "../../lambdas/core/restore/report";
import { testEnv } from "../support/env";

/** Every secret below contains "Secret" so that one search proves none is left. */
const HOSTILE: { text: string; kept: string[] }[] = [
  { text: "mongdb://user:Typo-Secret-1@host/db", kept: ["mongdb://user:***@host/db"] },
  { text: "http://admin:Http-Secret-2@proxy.local:8080/x", kept: ["http://admin:***@proxy.local:8080/x"] },
  { text: "MONGODB+SRV://Ada:Upper-Secret-3@Cluster0.example.net", kept: ["@Cluster0.example.net"] },
  // An unencoded "@" and "/" in the password: the userinfo runs to the last "@".
  { text: "mongodb://u:At@Slash/Secret-4@h1:27017,h2/db?tls=true", kept: ["mongodb://u:***@h1:27017,h2/db"] },
  { text: "redis://:Only-Secret-5@cache:6379", kept: ["redis://:***@cache:6379"] },
  { text: "https://ghp_TokenSecret6@github.com/org/repo", kept: ["https://***@github.com/org/repo"] },
  {
    text: "mongodb://h/?proxyHost=p&proxyUsername=pu&proxyPassword=Proxy-Secret-7&tlsCertificateKeyFilePassword=Key-Secret-8",
    kept: ["proxyHost=p", "proxyUsername=pu", "proxyPassword=***", "tlsCertificateKeyFilePassword=***"],
  },
  {
    text:
      "mongodb+srv://AKIAEXAMPLE:Aws%2FSecret9@c.mongodb.net/?authMechanism=MONGODB-AWS" +
      "&authMechanismProperties=AWS_SESSION_TOKEN:Session-Secret-10,SERVICE_NAME:mongodb",
    kept: ["AKIAEXAMPLE:***@c.mongodb.net", "AWS_SESSION_TOKEN:***", "SERVICE_NAME:mongodb"],
  },
  { text: "failed with password=Plain-Secret-11; retrying", kept: ["password=***; retrying"] },
  { text: '{"uri":"mongodb://a:Json-Secret-12@h","password":"Json-Secret-13","n":1}', kept: ['"n":1'] },
  { text: "sslPEMKeyPassword=Old-Secret-14&appName=x", kept: ["appName=x"] },
  {
    text: "mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN%3AEncoded-Secret-17%2CSERVICE_NAME%3Ax",
    kept: ["AWS_SESSION_TOKEN%3A***"],
  },
  {
    text: "two: mongodb://a:One-Secret-15@h1 and\nhttp://b:Two-Secret-16@h2/",
    kept: ["h1 and\nhttp://b:***@h2/"],
  },
];

describe("redactSecrets", () => {
  it.each(HOSTILE)("leaves no credential of $text", ({ text, kept }) => {
    const redacted = redactSecrets(text);
    expect(redacted).not.toMatch(/Secret/);
    for (const part of kept) expect(redacted).toContain(part);
  });

  it("keeps what carries no secret", () => {
    for (const text of [
      "cannot connect to 127.0.0.1:27017: connection refused",
      "mongodb://x509user@host/?authMechanism=MONGODB-X509",
      "s3://bucket/daily/opendev_backup_20250101_020000.tar.gz",
      "invalid token: expected a string",
      // A secret's id (an ARN) names it; only its value is secret.
      "reading secret arn:aws:secretsmanager:us-east-1:123456789012:secret:opendev/mongodb-AbCdEf failed",
    ]) {
      expect(redactSecrets(text)).toBe(text);
    }
  });

  it("redacts the known secrets of a URI wherever a message repeats them, encoded or not", () => {
    const uri = "mongodb://u:p%40ss%20Secret@h/?proxyPassword=Proxy%26Secret";
    const secrets = secretsOfUri(uri);
    const message = "auth failed for p@ss Secret (p%40ss%20Secret) via proxy Proxy&Secret";
    expect(redactSecrets(message, secrets)).not.toMatch(/Secret/);
  });

  it("a URI the parser does not understand is never echoed, only its scheme", () => {
    expect(() => parseMongoUri("mongdb://user:Typo-Secret@host")).toThrow(/starts with "mongdb:"/);
    expect(() => parseMongoUri("mongdb://user:Typo-Secret@host")).not.toThrow(/Secret/);
    expect(() => parseMongoUri("user:No-Scheme-Secret@host")).not.toThrow(/Secret/);
  });
});

describe("connection errors (real sockets)", () => {
  const port = new URL(testEnv().mongodbUri.replace(/^mongodb:/, "http:")).port;

  it.each([
    // A SOCKS5 proxy that refuses the connection.
    `mongodb://u:User-Secret-1@127.0.0.1:${port}/?proxyHost=127.0.0.1&proxyPort=1&proxyUsername=px&proxyPassword=Proxy-Secret-2`,
    // A client certificate that cannot be read.
    `mongodb://127.0.0.1:${port}/?tls=true&tlsCertificateKeyFile=/nonexistent/atlas-ops.pem&tlsCertificateKeyFilePassword=Key-Secret-3`,
    // A mistyped scheme.
    "mongdb://user:Typo-Secret-4@127.0.0.1/db",
  ])("names the failure without the URI's secrets: %s", async (uri) => {
    const error = await connectMongo(uri, { serverSelectionTimeoutMS: 2_000 }).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toMatch(/cannot connect|not a MongoDB connection string/);
    expect(error!.message).not.toMatch(/Secret/);
  });
});

describe("restore reports", () => {
  it("carry no credential from a failure's message", async () => {
    async function* failing(): AsyncGenerator<ArchiveEvent> {
      yield {
        type: "collection-metadata",
        db: "redaction_never_written",
        collection: "c",
        metadata: { options: {}, indexes: [] },
      };
      yield {
        type: "documents",
        db: "redaction_never_written",
        collection: "c",
        documents: DocumentRun.of([]),
      };
      throw new Error(
        "reading https://key:Report-Secret@archive.example.net/a.tar.gz?token=Token-Secret failed",
      );
    }
    const report = await restoreEvents(failing(), undefined, { dryRun: true });
    expect(report.ok).toBe(false);
    expect(JSON.stringify(report)).not.toMatch(/Secret/);
    expect(formatRestoreReport(report)).not.toMatch(/Secret/);
  });
});
