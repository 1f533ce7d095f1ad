import { useEffect, useRef, useState, type ReactElement } from 'react';

/**
 * A link that downloads `text` as `filename`. The Blob URL lives as long as the link, so a
 * secret never outlives the panel that shows it.
 */
export function DownloadLink({
  text,
  filename,
  label = 'Download',
  testId,
  compact = false,
}: {
  text: string;
  filename: string;
  label?: string;
  testId?: string;
  /** Just the label (the file name goes in a tooltip), for table cells. */
  compact?: boolean;
}): ReactElement {
  const [url, setUrl] = useState<string | undefined>(undefined);
  useEffect(() => {
    const objectUrl = URL.createObjectURL(new Blob([text], { type: 'application/x-pem-file' }));
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [text]);
  return (
    <a className="button-link" href={url} download={filename} data-testid={testId} title={compact ? `Download ${filename}` : undefined}>
      {label}
      {compact ? null : (
        <>
          {' '}
          <code>{filename}</code>
        </>
      )}
    </a>
  );
}

/** Copies `text`; where the Clipboard API is blocked (plain http), selects `target` instead. */
export function CopyButton({ text, target, testId }: { text: string; target: () => Element | null; testId?: string }): ReactElement {
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('yes');
    } catch {
      const el = target();
      if (el) window.getSelection()?.selectAllChildren(el);
      setCopied('failed');
    }
  };
  return (
    <button type="button" data-testid={testId} onClick={() => void copy()} title={copied === 'failed' ? 'Copying is blocked here; the text is selected — press Ctrl+C' : undefined}>
      {copied === 'yes' ? 'Copied ✓' : copied === 'failed' ? 'Selected — press Ctrl+C' : 'Copy'}
    </button>
  );
}

/**
 * One secret or PEM document in a "shown once" panel: a label, the text itself, a copy button
 * and, with `filename`, a download link. `testId` names the text; the buttons get suffixes.
 */
export function SecretField({
  label,
  value,
  filename,
  testId,
  multiline = false,
}: {
  label: string;
  value: string;
  filename?: string;
  testId: string;
  multiline?: boolean;
}): ReactElement {
  const node = useRef<Element | null>(null);
  const keep = (el: Element | null): void => {
    node.current = el;
  };
  return (
    <div className="secret-field">
      <div className="row">
        <strong>{label}</strong>
        <CopyButton text={value} target={() => node.current} testId={`${testId}-copy`} />
        {filename ? <DownloadLink text={value} filename={filename} testId={`${testId}-download`} /> : null}
      </div>
      {multiline ? (
        <pre className="pem" ref={keep} data-testid={testId}>
          {value}
        </pre>
      ) : (
        <code className="token" ref={keep} data-testid={testId}>
          {value}
        </code>
      )}
    </div>
  );
}
