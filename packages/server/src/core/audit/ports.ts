export interface AuditEntry {
  id: number;
  tenantId: string;
  at: number;
  actor: { type: string; id: string; name: string };
  action: string;
  target: { type: string; id: string };
  summary: Record<string, unknown>;
  requestId: string | null;
}

export type NewAuditEntry = Omit<AuditEntry, 'id'>;

export interface AuditFilter {
  tenantId: string;
  action?: string | undefined;
  targetId?: string | undefined;
  /** Entries older than this id (newest first). */
  beforeId?: number | undefined;
  limit: number;
}

/** Append-only: there is deliberately no update or delete (the database refuses them too). */
export interface AuditStore {
  append(entry: NewAuditEntry): Promise<void>;
  list(filter: AuditFilter): Promise<AuditEntry[]>;
}
