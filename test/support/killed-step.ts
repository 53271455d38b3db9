import { spawn } from "node:child_process";
import { resolve } from "node:path";

/**
 * Runs one invocation of a handler in a child process with `env` and kills it (SIGKILL) `afterMs` after it
 * started: the Lambda that died mid-way. Resolves with whether it was killed (false: it ended first).
 */
export async function killedStep(
  modulePath: string,
  event: unknown,
  options: { env: Record<string, string>; remainingMs: number; afterMs: number },
): Promise<{ killed: boolean; stderr: string }> {
  const root = resolve(__dirname, "../..");
  const child = spawn(
    process.execPath,
    // tsx in this process (its CLI would run the script in a grandchild that the kill leaves running).
    [
      "--import",
      "tsx",
      resolve(root, "test/support/handler-child.ts"),
      modulePath,
      JSON.stringify(event),
      String(options.remainingMs),
    ],
    { cwd: root, env: { ...process.env, ...options.env }, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((done) => child.on("exit", () => done()));
  const timer = new Promise<"time">((done) => setTimeout(() => done("time"), options.afterMs));
  const first = await Promise.race([timer, exited.then(() => "exit" as const)]);
  const killed = first === "time" && child.kill("SIGKILL");
  await exited;
  return { killed, stderr };
}
