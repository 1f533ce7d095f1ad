/**
 * The header's page links: the everyday pages inline, the rest behind a "More" button, so the
 * header fits 1024 px however many admin pages there are. The More menu follows the WAI-ARIA
 * disclosure-navigation pattern (a button with `aria-expanded` over a list of ordinary links)
 * rather than `role="menu"`: its entries are page links, and screen readers keep announcing them
 * as links. Arrow keys move between them all the same; Escape, a click outside or leaving it
 * with Tab closes it.
 */
import { useEffect, useId, useRef, useState, type KeyboardEvent, type ReactElement } from 'react';
import { href, type HashLocation } from './router.ts';
import type { NavItem } from './routes.tsx';

function isActive(item: NavItem, path: string): boolean {
  return path === item.path || path.startsWith(`${item.path}/`);
}

function NavLink({ item, active, onClick }: { item: NavItem; active: boolean; onClick?: () => void }): ReactElement {
  return (
    <a
      href={href(item.path)}
      className={active ? 'active' : ''}
      aria-current={active ? 'page' : undefined}
      data-testid={`nav-${item.path.slice(1)}`}
      onClick={onClick}
    >
      {item.label}
    </a>
  );
}

/** `items` are the entries the principal may see; those with `more` go behind the button. */
export function HeaderNav({ items, location }: { items: NavItem[]; location: HashLocation }): ReactElement {
  const primary = items.filter((item) => !item.more);
  const more = items.filter((item) => item.more);
  return (
    <nav aria-label="Pages">
      {primary.map((item) => (
        <NavLink key={item.path} item={item} active={isActive(item, location.path)} />
      ))}
      {more.length > 0 ? <MoreMenu items={more} path={location.path} /> : null}
    </nav>
  );
}

function MoreMenu({ items, path }: { items: NavItem[]; path: string }): ReactElement {
  const [open, setOpen] = useState(false);
  const rootRef = useRef<HTMLDivElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const listId = useId();
  /** The link to focus once the list is shown (opened by an arrow key): 0 first, -1 last. */
  const focusOnOpen = useRef<number | null>(null);
  const current = items.find((item) => isActive(item, path));

  // A page chosen (or a link followed elsewhere) closes the menu.
  useEffect(() => setOpen(false), [path]);

  useEffect(() => {
    if (!open) return;
    const onPointerDown = (e: PointerEvent): void => {
      if (rootRef.current && !rootRef.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('pointerdown', onPointerDown);
    return () => document.removeEventListener('pointerdown', onPointerDown);
  }, [open]);

  const links = (): HTMLAnchorElement[] => Array.from(rootRef.current?.querySelectorAll<HTMLAnchorElement>('.more-list a') ?? []);
  const focusLink = (index: number): void => {
    const all = links();
    if (all.length === 0) return;
    all[(index + all.length) % all.length]?.focus();
  };

  // A hidden link cannot take focus: wait for the render that shows the list.
  useEffect(() => {
    if (open && focusOnOpen.current !== null) focusLink(focusOnOpen.current);
    focusOnOpen.current = null;
  }, [open]);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>): void => {
    if (e.key === 'Escape' && open) {
      e.preventDefault();
      setOpen(false);
      buttonRef.current?.focus();
      return;
    }
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp' && e.key !== 'Home' && e.key !== 'End') return;
    const all = links();
    const at = all.indexOf(document.activeElement as HTMLAnchorElement);
    if (!open) {
      if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
      e.preventDefault();
      focusOnOpen.current = e.key === 'ArrowUp' ? -1 : 0;
      setOpen(true);
      return;
    }
    e.preventDefault();
    if (e.key === 'Home') focusLink(0);
    else if (e.key === 'End') focusLink(-1);
    else if (at < 0) focusLink(e.key === 'ArrowUp' ? -1 : 0);
    else focusLink(at + (e.key === 'ArrowDown' ? 1 : -1));
  };

  return (
    <div
      className="more"
      ref={rootRef}
      onKeyDown={onKeyDown}
      onBlur={(e) => {
        // Tabbing out of the menu closes it; moving between its own links does not.
        if (open && !rootRef.current?.contains(e.relatedTarget as Node | null)) setOpen(false);
      }}
    >
      <button
        type="button"
        ref={buttonRef}
        className={`more-button${current ? ' active' : ''}`}
        aria-expanded={open}
        aria-controls={listId}
        data-testid="nav-more"
        onClick={() => setOpen((o) => !o)}
      >
        {current ? (
          <>
            More: <span data-testid="nav-more-current">{current.label}</span>
          </>
        ) : (
          'More'
        )}{' '}
        <span aria-hidden="true" className="caret">
          ▾
        </span>
      </button>
      {/* Always rendered (hidden when closed) so the links exist for tests and for find-in-page. */}
      <ul id={listId} className="more-list" hidden={!open} data-testid="nav-more-list">
        {items.map((item) => (
          <li key={item.path}>
            <NavLink item={item} active={isActive(item, path)} onClick={() => setOpen(false)} />
          </li>
        ))}
      </ul>
    </div>
  );
}
