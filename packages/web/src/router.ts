/**
 * A tiny hash router: `#/devices`, `#/devices/:id`, `#/devices?q=...&limit=25`.
 * The hash keeps the dashboard a single `index.html` that the server can serve from `/`
 * without knowing the dashboard's routes.
 */
import { useMemo, useSyncExternalStore } from 'react';

export interface HashLocation {
  /** Path part of the hash, always starting with `/` (e.g. `/devices/abc`). */
  path: string;
  /** Query part of the hash (`#/devices?q=...`). */
  query: URLSearchParams;
}

export type RouteParams = Record<string, string>;

export function parseHash(hash: string): HashLocation {
  const raw = hash.startsWith('#') ? hash.slice(1) : hash;
  const qIndex = raw.indexOf('?');
  const pathPart = qIndex === -1 ? raw : raw.slice(0, qIndex);
  const queryPart = qIndex === -1 ? '' : raw.slice(qIndex + 1);
  const path = pathPart.startsWith('/') ? pathPart : `/${pathPart}`;
  return { path, query: new URLSearchParams(queryPart) };
}

/** Builds a hash href; `undefined`/empty query values are left out. */
export function href(path: string, query?: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const qs = params.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const target = to.startsWith('#') ? to : `#${to}`;
  if (options.replace) {
    window.location.replace(target);
  } else {
    window.location.hash = target;
  }
}

/**
 * Matches `/devices/:id` against `/devices/abc` → `{ id: 'abc' }`; `null` when it does not match.
 * Segments are URI-decoded, so device ids with `/`-free special characters round-trip.
 */
export function matchPath(pattern: string, path: string): RouteParams | null {
  const patternParts = pattern.split('/').filter(Boolean);
  const pathParts = path.split('/').filter(Boolean);
  if (patternParts.length !== pathParts.length) return null;
  const params: RouteParams = {};
  for (let i = 0; i < patternParts.length; i++) {
    const p = patternParts[i] as string;
    const actual = pathParts[i] as string;
    if (p.startsWith(':')) {
      try {
        params[p.slice(1)] = decodeURIComponent(actual);
      } catch {
        return null;
      }
    } else if (p !== actual) {
      return null;
    }
  }
  return params;
}

/** Encodes one path segment for use in a hash path (`#/devices/${segment(id)}`). */
export function segment(value: string): string {
  return encodeURIComponent(value);
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

function getHash(): string {
  return window.location.hash;
}

/** The current hash location; re-renders on `hashchange`. */
export function useHashLocation(): HashLocation {
  const hash = useSyncExternalStore(subscribe, getHash);
  return useMemo(() => parseHash(hash), [hash]);
}
