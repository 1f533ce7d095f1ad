/**
 * Sortable encoding of semantic versions, stored in `devices.firmware_version_key` so that
 * `firmware.version < "2.0.0"` is a plain indexed string comparison in SQL.
 *
 * Byte-wise ordering of two keys equals SemVer 2.0.0 §11 precedence of their versions. That
 * holds for SQLite's BINARY collation and for PostgreSQL only under `COLLATE "C"` (other
 * collations ignore punctuation or fold case); the compiler adds it. Keys are printable ASCII,
 * so JavaScript's `<` (UTF-16 code units) orders them the same way too.
 *
 * Layout, for `1.0.0-alpha.12`:
 *
 *     0000000001.0000000000.0000000000-2alpha!10212
 *     └─ major, minor, patch: 10 digits ─┘│└ id ┘└ id ┘
 *                                prerelease marker
 *
 * - A release ends in `~` and a prerelease continues with `-`; `-` < `~` puts every prerelease
 *   below its release (§11.3).
 * - Each prerelease identifier is encoded in turn (§11.4): a numeric one as `1`, its digit
 *   count as two digits, then the digits (no leading zeros in SemVer, so a longer number is
 *   larger and equal lengths compare digit by digit); an alphanumeric one as `2`, its text,
 *   then `!`. `1` < `2` sorts numeric identifiers first (§11.4.3). `!` is below every
 *   character an identifier may hold (`-` is the lowest), so `alpha` < `alpha-1` (§11.4.2).
 * - A list that ends sorts below one that goes on, because the key simply ends (§11.4.4).
 * - Build metadata is dropped (§10): `1.0.0+a` and `1.0.0+b` share a key.
 */

// SemVer 2.0.0 grammar (semver.org's suggested regular expression), with an optional leading
// `v` since firmware is often tagged that way.
const SEMVER =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$/;

const CORE_DIGITS = 10;
const MAX_PRERELEASE_DIGITS = 99;

/**
 * The sortable key of a SemVer version (optionally prefixed `v`), or null when `version` is
 * not SemVer or a major/minor/patch has more than 10 digits (such versions are left unsortable
 * rather than given a key that would mis-order).
 */
export function semverKey(version: string): string | null {
  const match = SEMVER.exec(version);
  if (match === null) return null;
  const [, major, minor, patch, prerelease] = match as unknown as [string, string, string, string, string | undefined];
  if (major.length > CORE_DIGITS || minor.length > CORE_DIGITS || patch.length > CORE_DIGITS) return null;
  const core = [major, minor, patch].map((part) => part.padStart(CORE_DIGITS, '0')).join('.');
  if (prerelease === undefined) return `${core}~`;
  let key = `${core}-`;
  for (const identifier of prerelease.split('.')) {
    if (/^\d+$/.test(identifier)) {
      if (identifier.length > MAX_PRERELEASE_DIGITS) return null;
      key += `1${String(identifier.length).padStart(2, '0')}${identifier}`;
    } else {
      key += `2${identifier}!`;
    }
  }
  return key;
}

/**
 * The key of a version as written in a fleet query: SemVer, or a partial `2` / `2.1` (with or
 * without `v`) read as `2.0.0` / `2.1.0`, so `firmware.version < "2"` means below 2.0.0.
 * Null when the text is neither.
 */
export function queryVersionKey(text: string): string | null {
  const partial = /^(v?)(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?$/.exec(text);
  if (partial !== null) return semverKey(`${partial[2]}.${partial[3] ?? '0'}.0`);
  return semverKey(text);
}
