// The portal's one way to the API: openapi-fetch over the types generated from the
// gateway's OpenAPI document (web/openapi.json → schema.d.ts, `make web-api`).
// The browser's session cookie authenticates every call; writes carry the session's
// CSRF token; a platform admin acts on one tenant through /v1/tenants/{id}/….
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

let csrfToken: string | null = null;
let actingTenant: string | null = null;

/** The token GET /v1/session gave; sent as X-CSRF-Token on every write. */
export function useCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Act on this tenant (a platform admin's cross-tenant path), or on the caller's own. */
export function actAsTenant(tenant: string | null): void {
  actingTenant = tenant;
}

// The platform's own routes: never rewritten to a tenant's path.
const PLATFORM_PATHS = /^\/v1\/(tenants|session|me|status|events|auth)(\/|$)/;

/** The path a request goes to: a tenant's own routes, under the tenant a platform
 * admin acts on. */
export function tenantPath(path: string, tenant: string | null): string {
  if (!tenant || !path.startsWith("/v1/") || PLATFORM_PATHS.test(path)) return path;
  return `/v1/tenants/${encodeURIComponent(tenant)}/${path.slice(4)}`;
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

const sessionMiddleware: Middleware = {
  async onRequest({ request }) {
    const url = new URL(request.url);
    url.pathname = tenantPath(url.pathname, actingTenant);
    const headers = new Headers(request.headers);
    if (csrfToken && !SAFE.has(request.method)) headers.set("X-CSRF-Token", csrfToken);
    const body = SAFE.has(request.method) ? undefined : await request.text();
    return new Request(url, {
      method: request.method,
      headers,
      body: body || undefined,
      credentials: "same-origin",
      signal: request.signal,
    });
  },
};

export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(sessionMiddleware);
