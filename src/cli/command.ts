/** One `causeway <name>` command: its help text and what it does. */
export interface Command {
  name: string;
  /** The full `causeway <name> --help`. */
  help: string;
  /** Resolves with the exit code, or `serving` when the process keeps running (start). */
  run(argv: string[]): Promise<number | 'serving'>;
}
