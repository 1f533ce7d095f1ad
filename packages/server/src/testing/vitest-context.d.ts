// The PostgreSQL URL that e2e/support/global-setup.ts provides to every test worker.
declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}
export {};
