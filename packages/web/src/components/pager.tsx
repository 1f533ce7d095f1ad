import { useState, type ReactElement } from 'react';

export interface CursorStack {
  /** Cursor of the page on screen; `null` for the first page. */
  cursor: string | null;
  page: number;
  next(cursor: string): void;
  previous(): void;
}

/**
 * Cursor pagination keeps a stack of the cursors that led to each page, since the API only
 * hands out "next" cursors. The stack starts over whenever `resetKey` (query, page size) changes.
 */
export function useCursorStack(resetKey: string): CursorStack {
  const [state, setState] = useState<{ key: string; stack: (string | null)[] }>({ key: resetKey, stack: [null] });
  const stack = state.key === resetKey ? state.stack : [null];
  return {
    cursor: stack[stack.length - 1] ?? null,
    page: stack.length,
    next: (cursor) => setState({ key: resetKey, stack: [...stack, cursor] }),
    previous: () => setState({ key: resetKey, stack: stack.length > 1 ? stack.slice(0, -1) : stack }),
  };
}

export function Pager({
  pager,
  nextCursor,
  loading,
}: {
  pager: CursorStack;
  nextCursor: string | null | undefined;
  loading?: boolean;
}): ReactElement {
  return (
    <div className="pager">
      <button type="button" data-testid="pager-prev" disabled={pager.page <= 1 || loading} onClick={pager.previous}>
        ← Previous
      </button>
      <span data-testid="pager-page">Page {pager.page}</span>
      <button
        type="button"
        data-testid="pager-next"
        disabled={!nextCursor || loading}
        onClick={() => nextCursor && pager.next(nextCursor)}
      >
        Next →
      </button>
    </div>
  );
}

export const PAGE_SIZES = [2, 10, 25, 50, 100, 500] as const;
export const DEFAULT_PAGE_SIZE = 25;

/** Reads a page size from the URL, falling back to the default for anything outside 1..1000. */
export function parsePageSize(raw: string | null): number {
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : DEFAULT_PAGE_SIZE;
}

export function PageSizeSelect({ value, onChange }: { value: number; onChange(size: number): void }): ReactElement {
  const sizes: number[] = PAGE_SIZES.includes(value as (typeof PAGE_SIZES)[number])
    ? [...PAGE_SIZES]
    : [...PAGE_SIZES, value].sort((a, b) => a - b);
  return (
    <label className="page-size">
      Page size{' '}
      <select data-testid="page-size" value={value} onChange={(e) => onChange(Number(e.target.value))}>
        {sizes.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
    </label>
  );
}
