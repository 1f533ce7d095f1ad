/**
 * The agent's own log: to stderr (journald picks it up under systemd) and into a bounded
 * backlog in memory that the `upload-logs` command sends to Hangar.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogRecord {
  ts: number;
  level: LogLevel;
  msg: string;
}

export interface AgentLogOptions {
  /** Records kept for upload at most; the oldest go first. */
  backlog?: number;
  /** Where lines are echoed; none for the simulator's thousands of agents. */
  echo?: ((line: string) => void) | undefined;
  /** Lower levels are not echoed (they are still kept). */
  echoLevel?: LogLevel;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export class AgentLog {
  private records: LogRecord[] = [];
  private readonly backlog: number;

  constructor(private readonly options: AgentLogOptions = {}) {
    this.backlog = options.backlog ?? 1000;
  }

  debug(msg: string): void {
    this.write('debug', msg);
  }
  info(msg: string): void {
    this.write('info', msg);
  }
  warn(msg: string): void {
    this.write('warn', msg);
  }
  error(msg: string): void {
    this.write('error', msg);
  }

  write(level: LogLevel, msg: string): void {
    const record = { ts: Date.now(), level, msg };
    this.records.push(record);
    if (this.records.length > this.backlog) this.records.splice(0, this.records.length - this.backlog);
    if (this.options.echo && RANK[level] >= RANK[this.options.echoLevel ?? 'info']) this.options.echo(`${new Date(record.ts).toISOString()} ${level} ${msg}`);
  }

  /** The backlog, oldest first. */
  snapshot(): LogRecord[] {
    return [...this.records];
  }
}
