/**
 * What the bench must undo (processes, databases, Redis keys, temporary files), undone in reverse order of
 * creation: a server stops before its database is dropped. Runs once, from `finally` or from a signal handler,
 * and keeps going when one step fails so that one stuck resource does not leak the others.
 */
export interface CleanupStack {
  defer(what: string, undo: () => Promise<void> | void): void;
  /** Undoes everything deferred so far; returns the steps that failed. */
  run(): Promise<string[]>;
}

export function createCleanupStack(log: (line: string) => void): CleanupStack {
  const steps: { what: string; undo: () => Promise<void> | void }[] = [];
  let running: Promise<string[]> | undefined;
  return {
    defer(what, undo) {
      steps.push({ what, undo });
    },
    run() {
      running ??= (async () => {
        const failed: string[] = [];
        // Steps deferred while cleaning up (a target still starting) are picked up by the loop too.
        for (let step = steps.pop(); step; step = steps.pop()) {
          try {
            await step.undo();
          } catch (error) {
            failed.push(step.what);
            log(`cleanup: ${step.what} failed: ${(error as Error).message}`);
          }
        }
        return failed;
      })();
      return running;
    },
  };
}
