/** The few REST calls the twin bench makes as an operator (admin API key). */
import type { Configuration, Job } from '@hangar/protocol/rest';

export class HangarRest {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  createConfiguration(body: { name: string; target: string; content: { desired: Record<string, unknown> } }): Promise<Configuration> {
    return this.call<Configuration>('POST', '/api/v1/configurations', body);
  }

  configuration(id: string): Promise<Configuration> {
    return this.call<Configuration>('GET', `/api/v1/configurations/${encodeURIComponent(id)}`);
  }

  createJob(body: { query: string; command: { name: string; timeoutSec?: number }; ratePerMinute: number; maxConcurrency: number }): Promise<Job> {
    return this.call<Job>('POST', '/api/v1/jobs', body);
  }

  job(id: string): Promise<Job> {
    return this.call<Job>('GET', `/api/v1/jobs/${encodeURIComponent(id)}`);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }
}
