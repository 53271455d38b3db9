import { describe, expect, it } from "vitest";
import { createJobObservability } from "../../lambdas/adapters/observability";
import { testEnv, uniqueName } from "../support/env";
import { createSecret, credentialsFor } from "./support/aws";
import { captureOutput, coldStart, invoke } from "./support/invoke";

/** What reaches CloudWatch Logs: every line a handler prints, whatever it was given. */
describe("Lambda logs carry no credential", () => {
  it("a job whose connection fails logs and throws the cause without the URI's secret options", async () => {
    const secretId = uniqueName("log-redaction/credentials");
    const credentials = credentialsFor(testEnv().mongodbAuthUri, { database: "admin" });
    // A SOCKS5 proxy that refuses the connection, with its password among the URI's options.
    credentials.options = [
      credentials.options,
      "proxyHost=127.0.0.1&proxyPort=1&proxyUsername=px&proxyPassword=Proxy-Secret-1",
      "serverSelectionTimeoutMS=2000",
    ].join("&");
    await createSecret(secretId, credentials);
    const handler = await coldStart("lambdas/db-stats/handler", { MONGODB_SECRET_ID: secretId });
    const run = await invoke(handler, {});
    expect(run.error?.message).toMatch(/cannot connect/);
    expect(run.error?.message).not.toContain("Proxy-Secret");
    expect(run.lines.join("\n")).toMatch(/db-stats failed/);
    expect(run.lines.join("\n")).not.toContain("Proxy-Secret");
    expect(run.lines.join("\n")).not.toContain(credentials.password);
  });

  it("redacts every string a handler logs, and fields named like secrets", async () => {
    const { logger } = createJobObservability("redaction-test");
    const { lines } = await captureOutput(async () => {
      logger.info("connected to mongodb://ada:Uri-Secret-1@cluster0.example.net", {
        target: "https://key:Url-Secret-2@bucket.example.net/",
        password: "Field-Secret-3",
        nested: { options: "proxyPassword=Option-Secret-4", list: ["AWS_SESSION_TOKEN:Token-Secret-5"] },
        error: new Error("auth failed for mongdb://ada:Error-Secret-6@h"),
      });
    });
    const text = lines.join("\n");
    expect(text).toContain("mongodb://ada:***@cluster0.example.net");
    expect(text).toContain('"password":"***"');
    expect(text).not.toMatch(/Secret/);
  });
});
