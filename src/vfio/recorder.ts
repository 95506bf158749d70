/** Something that records each step a process makes (the CLI's Sys, for --explain). */
export interface Recorder {
  run<T>(command: string, why: string, fn: () => T): T;
  record(command: string, why: string, result?: string): unknown;
}
