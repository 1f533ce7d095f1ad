import { join } from 'node:path';
import type { ArtifactStore } from '../../core/firmware/artifact-store.js';
import type { StoreConnection } from '../database.js';
import { FileArtifactStore } from './file-artifact-store.js';
import { PostgresLargeObjectStore } from './postgres-large-object-store.js';

export interface ArtifactStoreOptions {
  /** `file` (default): a directory; `postgres`: large objects in the store's database. */
  kind?: 'file' | 'postgres' | undefined;
  /** The `file` store's directory; default `<dataDir>/artifacts`. */
  dir?: string | undefined;
  dataDir: string;
}

/** The artifact store `hangar serve` was told to use (`--artifact-store`, `--artifact-dir`). */
export function openArtifactStore(conn: StoreConnection, options: ArtifactStoreOptions): ArtifactStore {
  if (options.kind === 'postgres') {
    if (conn.dialect !== 'postgres') throw new Error('--artifact-store=postgres keeps artifacts as PostgreSQL large objects: it needs --database-url');
    return new PostgresLargeObjectStore(conn.db);
  }
  return new FileArtifactStore(options.dir ?? join(options.dataDir, 'artifacts'));
}
