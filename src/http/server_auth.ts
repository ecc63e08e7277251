/**
 * The credentials check of `startHttpServer`'s `auth` option: Basic or Bearer, compared in time
 * independent of the secret.
 *
 * @module
 */

import type { Auth } from "../auth.ts";

/** The realm named in authentication challenges. */
const REALM = "metrics";

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/**
 * Compares two digests in time independent of where they differ. Digests of the secrets are
 * compared rather than the secrets, so the length of the secret does not leak either.
 */
function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

/** Returns a check of the `Authorization` header against the configured credentials. */
export function authenticator(
  auth: Auth,
): { challenge: string; check: (request: Request) => Promise<boolean> } {
  const encoder = new TextEncoder();
  const bearer = "bearerToken" in auth;
  const scheme = bearer ? "bearer" : "basic";
  const secret = bearer ? auth.bearerToken : `${auth.username}:${auth.password}`;
  const expected = sha256(encoder.encode(secret));
  const challenge = bearer ? `Bearer realm="${REALM}"` : `Basic realm="${REALM}", charset="UTF-8"`;

  async function check(request: Request): Promise<boolean> {
    const header = request.headers.get("authorization");
    if (header === null) return false;
    const space = header.indexOf(" ");
    if (space < 0 || header.slice(0, space).toLowerCase() !== scheme) return false;
    const credentials = header.slice(space + 1).trim();
    let presented: Uint8Array<ArrayBuffer>;
    if (bearer) {
      presented = encoder.encode(credentials);
    } else {
      try {
        // Basic credentials are base64 of the UTF-8 bytes of "user:password".
        presented = Uint8Array.from(atob(credentials), (char) => char.charCodeAt(0));
      } catch {
        return false;
      }
    }
    return digestsEqual(await sha256(presented), await expected);
  }
  return { challenge, check };
}
