import { spawn } from "node:child_process";
import type { DatabaseUserBackend } from "../support/fake-atlas-api";

/**
 * Database users of the FerretDB-on-PostgreSQL test server: FerretDB checks PLAIN credentials against
 * PostgreSQL roles, so a role here is a MongoDB-visible user. `groupRole` owns FerretDB's data (see the
 * provisioning in test/services/services.sh); its members can read and write every database.
 * psql reads the SQL on stdin with the values as psql variables (:"name" / :'value' quote them safely).
 */
export function postgresUsers(
  adminUrl: string,
  groupRole = "ferretdb_owner",
): DatabaseUserBackend & {
  createLogin(username: string, password: string): Promise<void>;
  dropLogin(username: string): Promise<void>;
  passwordWorks(username: string, password: string): Promise<boolean>;
} {
  const run = (sql: string, variables: Record<string, string>): Promise<void> =>
    new Promise((resolve, reject) => {
      const args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", adminUrl];
      for (const [name, value] of Object.entries(variables)) args.push("-v", `${name}=${value}`);
      const child = spawn("psql", args, { stdio: ["pipe", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.on("error", reject);
      child.on("close", (code) =>
        code === 0
          ? resolve()
          : reject(new Error(`psql failed (${code}) for role ${variables.role}: ${stderr}`)),
      );
      child.stdin.end(sql);
    });

  const createLogin = (username: string, password: string): Promise<void> =>
    run(`CREATE ROLE :"role" LOGIN INHERIT PASSWORD :'password';\nGRANT :"group" TO :"role";\n`, {
      role: username,
      password,
      group: groupRole,
    });

  // A direct PostgreSQL login: the authority FerretDB asks (it may keep serving an already-open pool).
  const passwordWorks = (username: string, password: string): Promise<boolean> =>
    new Promise((resolve, reject) => {
      const target = new URL(adminUrl);
      const child = spawn(
        "psql",
        [
          "-X",
          "-q",
          "-w",
          "-h",
          target.hostname,
          "-p",
          target.port,
          "-U",
          username,
          "-d",
          target.pathname.slice(1),
          "-c",
          "SELECT 1",
        ],
        { stdio: "ignore", env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" } },
      );
      child.on("error", reject);
      child.on("close", (code) => resolve(code === 0));
    });

  return {
    createLogin,
    passwordWorks,
    createUser: (username, password) => createLogin(username, password),
    setPassword: (username, password) =>
      run(`ALTER ROLE :"role" PASSWORD :'password';\n`, { role: username, password }),
    dropLogin: (username) => run(`DROP ROLE IF EXISTS :"role";\n`, { role: username }),
  };
}
