import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RULES } from "../../policy/rules";

/**
 * The pack started the way `pulumi preview --policy-pack policy` starts it: the nodejs language host runs
 * `@pulumi/pulumi/cmd/run-policy-pack` in the pack's directory (TypeScript compiled on the fly), the pack
 * serves the analyzer over gRPC and prints its port, and the engine asks it what it is. The Pulumi CLI
 * cannot be installed here; this is the part of its work that runs the pack's own code.
 */
const root = resolve(__dirname, "../..");
const packDir = join(root, "policy");
const fromPulumi = createRequire(require.resolve("@pulumi/pulumi"));
/* eslint-disable @typescript-eslint/no-require-imports -- the SDK's generated gRPC stubs are CommonJS only */
const grpc = fromPulumi("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
const services = require("@pulumi/pulumi/proto/analyzer_grpc_pb") as {
  AnalyzerClient: new (address: string, credentials: unknown) => AnalyzerClient;
};
const { Empty } = fromPulumi("google-protobuf/google/protobuf/empty_pb.js") as {
  Empty: new () => unknown;
};
/* eslint-enable @typescript-eslint/no-require-imports */

interface AnalyzerInfo {
  getName(): string;
  getVersion(): string;
  getPoliciesList(): { getName(): string; getEnforcementlevel(): number }[];
}
interface AnalyzerClient {
  getAnalyzerInfo(request: unknown, callback: (error: Error | null, info: AnalyzerInfo) => void): void;
  close(): void;
}

let pack: ChildProcess | undefined;

afterAll(() => {
  pack?.kill();
});

function startPack(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack");
    const child = spawn(process.execPath, [runner, "127.0.0.1:0", packDir], {
      cwd: packDir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    pack = child;
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = /^(\d+)\s*$/m.exec(stdout);
      if (line) resolvePort(Number(line[1]));
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("exit", (code) =>
      reject(new Error(`policy pack exited with ${code} before serving:\n${stderr}${stdout}`)),
    );
  });
}

describe("policy pack", () => {
  it("starts as the Pulumi CLI starts it and reports its name, version and every rule", async () => {
    const port = await startPack();
    const client = new services.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      const info = await new Promise<AnalyzerInfo>((done, fail) =>
        client.getAnalyzerInfo(new Empty(), (error, reply) => (error ? fail(error) : done(reply))),
      );
      expect(info.getName()).toBe("atlas-ops");
      expect(info.getVersion()).toBe("0.1.0");
      expect(info.getPoliciesList().map((policy) => policy.getName())).toEqual(
        RULES.map((rule) => rule.name),
      );
      // proto/analyzer.proto EnforcementLevel: ADVISORY = 0, MANDATORY = 1.
      const levels = Object.fromEntries(
        info.getPoliciesList().map((policy) => [policy.getName(), policy.getEnforcementlevel()]),
      );
      expect(levels["atlas-not-open"]).toBe(1);
      expect(levels["atlas-open-on-purpose"]).toBe(0);
    } finally {
      client.close();
    }
  }, 120_000);
});
