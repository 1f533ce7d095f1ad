import { useEffect, useRef, type ReactElement, type ReactNode } from 'react';

/**
 * A modal `<dialog>` for questions that need more than a yes (a reason, a typed id). Mounted
 * only while open; Escape and the Cancel button both call `onClose`.
 */
export function Dialog({
  title,
  onClose,
  children,
  testId,
  danger = false,
}: {
  title: string;
  onClose(): void;
  children: ReactNode;
  testId: string;
  danger?: boolean;
}): ReactElement {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = ref.current;
    // StrictMode mounts twice; showModal() on an open dialog throws in older browsers.
    if (el && !el.open) el.showModal();
    return () => el?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      className={`dialog${danger ? ' danger-zone' : ''}`}
      data-testid={testId}
      aria-label={title}
      onCancel={(e) => {
        // Escape: let React unmount it rather than the browser closing it behind React's back.
        e.preventDefault();
        onClose();
      }}
    >
      <h2>{title}</h2>
      {children}
    </dialog>
  );
}
