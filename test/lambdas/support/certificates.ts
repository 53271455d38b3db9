import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface KeyPair {
  key: string;
  cert: string;
}

/** A self-signed certificate for localhost/127.0.0.1, valid from `start` to `end` (openssl ca dates). */
export function selfSignedCertificate(dir: string, name: string, start: Date, end: Date): KeyPair {
  const work = join(dir, name);
  mkdirSync(join(work, "issued"), { recursive: true });
  writeFileSync(join(work, "index.txt"), "");
  writeFileSync(join(work, "serial"), "01\n");
  writeFileSync(
    join(work, "ca.cnf"),
    [
      "[ca]",
      "default_ca = test",
      "[test]",
      `database = ${join(work, "index.txt")}`,
      `new_certs_dir = ${join(work, "issued")}`,
      `serial = ${join(work, "serial")}`,
      "default_md = sha256",
      "policy = any",
      "copy_extensions = copy",
      "[any]",
      "commonName = supplied",
      "",
    ].join("\n"),
  );
  const key = join(work, "key.pem");
  const csr = join(work, "request.csr");
  const cert = join(work, "cert.pem");
  openssl([
    "req",
    "-new",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    csr,
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ]);
  openssl([
    "ca",
    "-batch",
    "-config",
    join(work, "ca.cnf"),
    "-selfsign",
    "-keyfile",
    key,
    "-in",
    csr,
    "-out",
    cert,
    "-startdate",
    opensslDate(start),
    "-enddate",
    opensslDate(end),
  ]);
  return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
}

function opensslDate(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}
