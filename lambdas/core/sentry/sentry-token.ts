/** The Sentry auth token secret holds `{"token": "..."}`; errors name the secret, never its value. */
export function parseSentryToken(secretString: string, secretId: string): string {
  let value: unknown;
  try {
    value = JSON.parse(secretString);
  } catch {
    throw new Error(`Sentry token secret ${secretId} is not valid JSON (expected {"token": "..."})`);
  }
  const token = (value as { token?: unknown } | null)?.token;
  if (typeof token !== "string" || token === "") {
    throw new Error(`Sentry token secret ${secretId} lacks the string field "token"`);
  }
  return token;
}
